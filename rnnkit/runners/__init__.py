"""Runners: interchangeable ways to execute the recurrent loop (fused kernel, generic loop)."""
