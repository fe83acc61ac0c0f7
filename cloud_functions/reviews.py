"""Example cloud code, the shape of Parse's own guide: a function and a beforeSave.

    curl -X POST http://127.0.0.1:1337/parse/functions/averageStars \
      -H 'X-Parse-Application-Id: ballast' -d '{"movie": "The Matrix"}'
"""

from __future__ import annotations

from backend.cloud import Request, cloud


@cloud.define("averageStars", fields={"movie": {"type": str, "required": True}})
async def average_stars(req: Request) -> float:
    """The mean of ``stars`` over the movie's reviews (0 when there are none)."""
    reviews = await req.db.find("Review", {"movie": req.params["movie"]}, keys="stars", limit=1000)
    stars = [review["stars"] for review in reviews if isinstance(review.get("stars"), int | float)]
    return sum(stars) / len(stars) if stars else 0


@cloud.before_save("Review", fields={"stars": {"type": int, "required": True, "options": [1, 2, 3, 4, 5]}})
async def check_review(req: Request) -> None:
    """Refuse short reviews; tidy the text before it is stored."""
    review = req.object or {}
    text = str(review.get("text", "")).strip()
    if len(text) < 3:
        raise cloud.Error(cloud.VALIDATION_ERROR, "review too short")
    review["text"] = text
