"""One reader per source format; each returns a LoadedTrace in canonical form."""
