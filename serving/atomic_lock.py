"""A Redis ticket lock whose every change is one atomic read-modify-write.

Rasa 3.6's ``RedisLockStore`` keeps a conversation's ticket lock as one JSON value and changes it by
``GET`` → modify in Python → ``SET`` (``issue_ticket``, ``update_lock``, ``finish_serving``) and deletes it
after a separate "is anyone waiting?" read (``cleanup``). Between two replicas those steps interleave:
both replicas read an empty lock and issue the same ticket number, so both process a message of the same
conversation at once and the tracker store keeps only one of the two turns; or a replica deletes the lock
right after another one queued its ticket, which then fails with ``LockError`` or waits for the ticket's
60 s lifetime. The scale test (two replicas, two messages of one shopper at the same moment) saw both: a
lost turn and a request that never answered.

Here each of those changes runs inside a Redis ``WATCH``/``MULTI``/``EXEC`` transaction on the lock's key
(redis-py's ``Redis.transaction`` retries when another client changed the key in between), so tickets
are unique and a lock is only deleted when it is empty at the moment of deletion. Keys, value format and
everything else stay Rasa's, so replicas running this store and the stock one read the same locks.
"""
from __future__ import annotations

import json
from typing import Callable, Optional, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

Result = TypeVar("Result")
# A change to a conversation's lock: gets the stored lock (or None) and returns the lock to store
# (None: delete the key) and what the caller gets back.
LockChange = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], Result]]


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` with atomic ticket issuing, expiry clean-up and release (module docstring)."""

    def _change(self, conversation_id: str, change: LockChange) -> Result:
        key = self.key_prefix + conversation_id

        def transaction(pipe) -> Result:  # redis.client.Pipeline, in immediate mode until multi()
            stored = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(stored)) if stored else None
            new_lock, result = change(lock)
            pipe.multi()
            if new_lock is None:
                pipe.delete(key)
            else:
                pipe.set(key, new_lock.dumps())
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Queues a new ticket; two replicas asking at the same moment get different numbers."""

        def issue(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as error:  # Rasa's contract: lock problems surface as LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        """Drops expired tickets without overwriting a ticket queued meanwhile by another replica."""

        def drop_expired(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Removes the finished ticket; deletes the lock only if no ticket is left at that moment."""

        def release(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, release)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Release and delete-if-empty are one step (``finish_serving``), so no queued ticket is lost."""
        self.finish_serving(conversation_id, ticket_number)
