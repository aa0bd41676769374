"""vigie.v1.AuditService: the audit trail, newest first, filtered and paged (SUPERVISOR, see rules.py)."""

from __future__ import annotations

import grpc

from vigie.backend.services.convert import time_range
from vigie.backend.services.resumable import fitting
from vigie.backend.store.audit_sqlite import AuditQuery, AuditStore, decode_page_token, encode_page_token
from vigie.v1 import audit_pb2, audit_pb2_grpc

DEFAULT_PAGE = 200
MAX_PAGE = 5000
# Filter strings longer than this cannot match anything the backend writes: refuse them.
MAX_FILTER_CHARS = {"user": 64, "action": 64, "target": 1000, "result": 32, "text": 500, "page_token": 100}


class AuditService(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, store: AuditStore) -> None:
        self.store = store

    async def ListAudit(
        self, request: audit_pb2.ListAuditRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListAuditResponse:
        if not 0 <= request.page_size <= MAX_PAGE:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 0..{MAX_PAGE}")
        for name, limit in MAX_FILTER_CHARS.items():
            if len(getattr(request, name)) > limit:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"{name} must be at most {limit} characters"
                )
        q = AuditQuery(
            user=request.user,
            action_prefix=request.action,
            target=request.target,
            result=request.result,
            text=request.text,
            limit=request.page_size or DEFAULT_PAGE,
        )
        try:
            q.start, q.end = time_range(
                request.start if request.HasField("start") else None,
                request.end if request.HasField("end") else None,
            )
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if request.page_token:
            q.before_id = decode_page_token(request.page_token)
            if q.before_id is None:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "page_token is not a token this server issued"
                )
        records, total = await self.store.query(q)
        pbs = []
        for r in records:
            e = r.entry
            m = audit_pb2.AuditRecord(
                id=r.id,
                user=e.user,
                console=e.console,
                action=e.action,
                target=e.target,
                reason=e.reason,
                result=e.result,
                detail=e.detail,
            )
            m.time.FromNanoseconds(int(e.time * 1e9))
            pbs.append(m)
        kept = fitting([m.ByteSize() for m in pbs])  # a page stays far below 4 MB, however full
        resp = audit_pb2.ListAuditResponse(total_size=total, records=pbs[:kept])
        if (len(records) == q.limit or kept < len(records)) and records[kept - 1].id > 1:
            resp.next_page_token = encode_page_token(records[kept - 1].id)
        return resp
