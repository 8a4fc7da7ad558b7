"""batchsim profiler package."""
