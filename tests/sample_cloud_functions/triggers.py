"""Sample triggers the tests load: reject, mutate, observe, narrow, refuse deletes, guard files."""

from __future__ import annotations

from typing import Any

from backend.cloud import Request, cloud


@cloud.before_save("CloudReview")
async def check_review(req: Request) -> None:
    obj = req.object or {}
    text = str(obj.get("text", ""))
    if len(text.strip()) < 3:
        raise cloud.Error(cloud.VALIDATION_ERROR, "review too short")
    obj["text"] = text.strip()
    obj["checked"] = True
    req.context["checkedBy"] = "beforeSave"  # reaches afterSave, as Parse's request.context does


@cloud.after_save("CloudReview")
async def audit_review(req: Request) -> None:
    obj = req.object or {}
    await req.master_db.create("CloudAudit", {"review": obj["objectId"], "text": obj.get("text"),
                                              "isNew": req.original is None, "context": req.context})


@cloud.before_save("CloudRating", fields={
    "stars": {"type": int, "required": True, "options": [1, 2, 3, 4, 5]},
    "kind": {"type": str, "default": "movie"},
    "owner": {"type": str, "constant": True},
})
def check_rating(req: Request) -> None:  # a sync trigger: runs in a worker thread
    return None


@cloud.before_find("CloudSecret")
async def only_visible(req: Request) -> None:
    assert req.query is not None
    req.query.equal_to("visible", True)


@cloud.before_find("CloudDirectOnly")
async def by_id_only(req: Request) -> None:
    if not req.is_get:  # Parse's request.isGet: true on a get by id
        raise cloud.Error(cloud.OPERATION_FORBIDDEN, "fetch these by id")


@cloud.after_find("CloudSecret")
async def mark_found(req: Request) -> list[dict[str, Any]]:
    return [{**obj, "seen": True} for obj in req.objects or []]


@cloud.before_delete("CloudLocked")
async def refuse_delete(req: Request) -> None:
    raise cloud.Error(cloud.OPERATION_FORBIDDEN, "locked objects stay")


@cloud.before_save_file()
async def guard_files(req: Request) -> None:
    assert req.file is not None
    if "forbidden" in req.file["name"]:
        raise cloud.Error(cloud.FILE_SAVE_ERROR, "no forbidden files")
    if "rename" in req.file["name"]:
        req.file["name"] = req.file["name"].replace("rename", "renamed")


@cloud.after_save_file()
async def log_file(req: Request) -> None:
    assert req.file is not None
    if "logged" in req.file["name"]:
        await req.master_db.create("CloudFileLog", {"name": req.file["name"], "size": req.file["size"]})


@cloud.after_delete_file()
async def log_deleted(req: Request) -> None:
    assert req.file is not None
    if "logged" in req.file["name"]:
        await req.master_db.create("CloudFileLog", {"name": req.file["name"], "deleted": True})
