"""Executors: what runs attempts. Threads (default), local processes; Dask later."""

from podium.execution.base import Executor, Job, JobResult, LogSink, make_executor

__all__ = ["Executor", "Job", "JobResult", "LogSink", "make_executor"]
