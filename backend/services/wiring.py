"""Build the services once from settings: the graph every face (HTTP, CLI, jobs, agents) shares."""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import Settings
from backend.services.cloud.hooks import HookService
from backend.services.cloud.script_log import ScriptLog
from backend.services.cloud.service import CloudService
from backend.services.cloud.webhooks import WebhookCaller
from backend.services.data.config import ConfigService
from backend.services.data.idempotency import IdempotencyService
from backend.services.data.objects import ObjectService
from backend.services.data.schemas import SchemaService
from backend.services.files.config import build_file_service, user_lookup
from backend.services.files.service import FileService
from backend.services.identity.service import Identity, build_identity
from backend.services.identity.sessions import SessionResolver
from backend.services.shared.events import EventBus
from backend.services.shared.rate_limits import RateCounter, RequestLimits
from backend.services.shared.units import Database
from backend.storage import create_store
from backend.storage.protocols import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    db: Database
    events: EventBus
    schemas: SchemaService
    objects: ObjectService
    files: FileService
    cloud: CloudService
    config: ConfigService
    idempotency: IdempotencyService
    sessions: SessionResolver
    identity: Identity
    limits: RequestLimits
    script_log: ScriptLog
    hooks: HookService

    async def start(self) -> None:
        await self.store.open()
        async with self.db.unit() as unit:
            await self.schemas.load(unit)
        await self.identity.install()
        await self.cloud.start()
        await self.script_log.start()
        await self.hooks.start()

    async def stop(self) -> None:
        await self.hooks.stop()
        await self.script_log.stop()
        await self.cloud.stop()
        await self.files.close()
        await self.limits.counter.close()
        await self.store.close()


def build_services(settings: Settings, store: Store | None = None) -> Services:
    store = store or create_store(settings.database_url, settings.database_pool_size)
    db = Database(store)
    events = EventBus()
    schemas = SchemaService(settings.allow_client_class_creation, store.schema_stamp)
    db.on_open.append(schemas.refresh)  # another instance's schema, CLP or protected-field change applies here
    cloud = CloudService(settings.cloud_code_dir, settings.cloud_timeout, settings.cloud_reload)
    files = build_file_service(settings)
    files.hooks = cloud
    objects = ObjectService(db, schemas, events, files.url, settings.max_limit, triggers=cloud)
    cloud.bind(objects)
    cloud.hooks = HookService(objects, WebhookCaller(settings.webhook_key, settings.webhook_timeout,
                                                     settings.webhook_allow_private))
    files.users = user_lookup(objects)
    identity = build_identity(settings, db, objects, events)
    return Services(
        settings=settings, store=store, db=db, events=events, schemas=schemas, objects=objects,
        files=files, cloud=cloud,
        config=ConfigService(db), idempotency=IdempotencyService(
            db, settings.idempotency_ttl, settings.experimental_idempotency_options, settings.idempotency_replay),
        sessions=identity.sessions, identity=identity,
        limits=RequestLimits(settings.rate_limit, RateCounter(settings.redis_url, "ballast-requests", exact=True)),
        script_log=ScriptLog(objects, (settings.master_key, settings.read_only_master_key, settings.javascript_key,
                                       settings.rest_api_key, settings.client_key, settings.s3_secret_access_key),
                             settings.log_level_number),
        hooks=cloud.hooks,
    )
