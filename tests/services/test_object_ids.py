"""Object ids: ten letters and digits, every one equally likely (Parse's shape; guessing one must stay hard)."""

from __future__ import annotations

from collections import Counter

from backend.services.data.objects import ID_ALPHABET, new_object_id


def test_ids_are_ten_characters_of_the_alphabet_each_about_equally_likely() -> None:
    ids = [new_object_id() for _ in range(20_000)]
    assert all(len(object_id) == 10 and set(object_id) <= set(ID_ALPHABET) for object_id in ids)
    assert len(set(ids)) == len(ids)
    counts = Counter("".join(ids))
    expected = 200_000 / len(ID_ALPHABET)  # 3,226 each; a bias as small as byte % 62 without the drop is 25%
    assert set(counts) == set(ID_ALPHABET)
    assert all(abs(count - expected) < 0.12 * expected for count in counts.values()), counts.most_common(3)
