"""Settings -> FileService: local disk under ``data_dir/files`` unless an S3 bucket is configured."""

from __future__ import annotations

from typing import Any

from backend.config import Settings
from backend.context import RequestContext
from backend.errors import ParseError
from backend.services.data.objects import ObjectService
from backend.services.files.service import FileService, UploadRules, UserLookup
from backend.storage.files import FilesAdapter


def build_files_adapter(settings: Settings) -> FilesAdapter:
    if settings.s3_bucket:
        from backend.storage.files_s3 import S3Files, S3Options

        return S3Files(S3Options(
            bucket=settings.s3_bucket, prefix=settings.s3_prefix, region=settings.s3_region,
            endpoint=settings.s3_endpoint, access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            server_side_encryption=settings.s3_server_side_encryption,
            presigned_urls=settings.s3_presigned_urls, presigned_expires=settings.s3_presigned_url_expires,
        ))
    from backend.storage.files_local import LocalFiles

    return LocalFiles(settings.data_dir / "files")


def build_file_service(settings: Settings) -> FileService:
    rules = UploadRules(
        enable_for_public=settings.file_upload_enable_for_public,
        enable_for_anonymous_user=settings.file_upload_enable_for_anonymous_user,
        enable_for_authenticated_user=settings.file_upload_enable_for_authenticated_user,
        extensions=tuple(settings.file_extensions),
        max_size=settings.max_upload_size,
    )
    url_base = f"{settings.public_url}/files/{settings.application_id}/"
    return FileService(build_files_adapter(settings), rules, url_base, settings.files_base_url)


def user_lookup(objects: ObjectService) -> UserLookup:
    """How FileService reads a caller's ``_User`` (as master) to tell anonymous users apart."""

    async def lookup(user_id: str) -> dict[str, Any] | None:
        try:
            return await objects.get(RequestContext.system(), "_User", user_id)
        except ParseError:
            return None

    return lookup
