"""Build the jobs part on top of a services graph: records, runner, reaper, scheduler, JobService."""

from __future__ import annotations

import os
import secrets
import socket

from backend.cloud import Registry, cloud
from backend.services.wiring import Services
from jobs.builtin import builtin_schedules
from jobs.clock import Clock, SystemClock
from jobs.leases import Reaper
from jobs.records import JobRecords
from jobs.runner import Runner
from jobs.scheduler import Scheduler
from jobs.service import JobService


def build_jobs(services: Services, *, clock: Clock | None = None, instance: str | None = None,
               registry: Registry | None = None, with_builtin_schedules: bool = True) -> JobService:
    """One instance's jobs: its scheduler is started by ``JobService.open`` when jobs are enabled."""
    settings = services.settings
    clock = clock or SystemClock()
    instance = instance or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    registry = registry or cloud.registry
    records = JobRecords(services.objects)
    runner = Runner(records, services.objects, registry, clock, instance, settings.job_lease_seconds)
    builtin = builtin_schedules(settings.job_retention_days) if with_builtin_schedules else []
    scheduler = Scheduler(records, runner, Reaper(records, runner, clock), clock, registry.jobs.keys(),
                          settings.job_refresh_seconds, builtin)
    return JobService(records, runner, scheduler, enabled=settings.jobs_enabled)
