"""batchsim traces package."""
