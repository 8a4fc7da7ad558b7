"""batchsim cli package."""
