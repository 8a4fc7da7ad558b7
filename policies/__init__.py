"""batchsim policies package."""
