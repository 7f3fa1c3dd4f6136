"""Checks: one module each, every one a function ``(CheckContext) -> CheckResult``.

The registry is ``driftwatch.checks.registry.CHECKS``; the contract (CheckResult,
CheckContext, Baseline) is ``driftwatch.checks.base``.
"""
