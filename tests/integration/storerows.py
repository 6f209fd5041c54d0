"""A batch's rows read whole, over the store's chunked readers: for tests with a handful of credentials."""

from issuer.store import Store


def credential_rows(store: Store, batch_id: int) -> list[tuple[str, str, str, str]]:
    """(id, digest, leaf, document) of the batch's credentials in batch order."""
    return [row for rows in store.credential_chunks(batch_id) for row in rows]


def deliveries(store: Store, batch_id: int) -> list[tuple[int, str, str, str, str | None]]:
    """(records row, email, name, credential id, receipt path) of the batch's credentials in batch order."""
    return [row[:5] for rows in store.delivery_chunks(batch_id) for row in rows]
