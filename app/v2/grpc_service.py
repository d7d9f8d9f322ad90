"""The KServe v2 gRPC service, `inference.GRPCInferenceService`, over the models and batchers the
REST routes use. The API key travels as `authorization: Bearer <key>` metadata; ServerLive and
ServerReady (the probes) need none, as their REST twins. RepositoryModelLoad and
RepositoryModelUnload are model control, as `/v2/repository` is: PERMISSION_DENIED unless
SENTIMENT_MODEL_CONTROL=true, then the admin key in the same metadata instead of the API key.
Errors take their gRPC status code from the HTTP status of the one error table
(app.core.errors)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import grpc

from app.core.context import RequestContext
from app.core.errors import (
    INTERNAL_MESSAGE,
    NotReady,
    ServiceError,
    Unauthorized,
    status_and_type,
)
from app.core.repository import Repository
from app.core.service import Service
from app.http.security import authorize_control, bearer_token, key_matches
from app.v2.grpc_calls import REQUEST_ID_KEY, Call, CallLog, metadata_value
from app.v2.grpc_codec import metadata_of, request_of, response_of
from app.v2.infer import infer, server_metadata
from app.v2.openinference import check_version, model_metadata
from app.v2.proto import grpc_predict_v2_pb2 as pb2
from app.v2.proto import grpc_predict_v2_pb2_grpc as pb2_grpc

log = logging.getLogger(__name__)
T = TypeVar("T")
Code = grpc.StatusCode
SERVICE_NAME = "inference.GRPCInferenceService"

# HTTP status of the error table -> gRPC status code
GRPC_CODES: dict[int, grpc.StatusCode] = {
    400: Code.INVALID_ARGUMENT,
    401: Code.UNAUTHENTICATED,
    403: Code.PERMISSION_DENIED,
    404: Code.NOT_FOUND,
    405: Code.UNIMPLEMENTED,
    409: Code.FAILED_PRECONDITION,
    413: Code.INVALID_ARGUMENT,
    422: Code.INVALID_ARGUMENT,
    429: Code.RESOURCE_EXHAUSTED,
    499: Code.CANCELLED,
    503: Code.UNAVAILABLE,
    504: Code.DEADLINE_EXCEEDED,
}


def grpc_code(error: BaseException) -> grpc.StatusCode:
    return GRPC_CODES.get(status_and_type(error)[0], Code.INTERNAL)


class InferenceServicer(pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(
        self,
        service: Service,
        api_key: str | None,
        repository: Repository,
        admin_key: str | None = None,
        access_log: bool = True,
    ) -> None:
        """`admin_key` None: model control is off, and the repository methods are refused."""
        self.service = service
        self.key = api_key.encode() if api_key is not None else None
        self.repository = repository
        self.admin_key = admin_key.encode() if admin_key is not None else None
        self.calls = CallLog(service.metrics, access_log, SERVICE_NAME)

    async def ServerLive(
        self, request: pb2.ServerLiveRequest, context: grpc.aio.ServicerContext
    ) -> pb2.ServerLiveResponse:
        return pb2.ServerLiveResponse(live=True)

    async def ServerReady(
        self, request: pb2.ServerReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb2.ServerReadyResponse:
        return pb2.ServerReadyResponse(ready=self.service.ready)

    async def ServerMetadata(
        self, request: pb2.ServerMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb2.ServerMetadataResponse:
        async def answer(_: RequestContext) -> pb2.ServerMetadataResponse:
            return pb2.ServerMetadataResponse(**server_metadata())

        return await self._guarded("ServerMetadata", context, answer)

    async def ModelReady(
        self, request: pb2.ModelReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb2.ModelReadyResponse:
        async def answer(call: RequestContext) -> pb2.ModelReadyResponse:
            call.model = request.name or None
            try:
                model = self.service.model(request.name)
            except NotReady:
                return pb2.ModelReadyResponse(ready=False)  # still loading, or failed
            check_version(model, request.version or None)
            return pb2.ModelReadyResponse(ready=self.service.ready)

        return await self._guarded("ModelReady", context, answer)

    async def ModelMetadata(
        self, request: pb2.ModelMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb2.ModelMetadataResponse:
        async def answer(call: RequestContext) -> pb2.ModelMetadataResponse:
            call.model = request.name or None
            model = self.service.model(request.name)
            check_version(model, request.version or None)
            return metadata_of(model_metadata(model))

        return await self._guarded("ModelMetadata", context, answer)

    async def ModelInfer(
        self, request: pb2.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> pb2.ModelInferResponse:
        async def answer(call: RequestContext) -> pb2.ModelInferResponse:
            call.model = request.model_name or None
            body = request_of(request)
            version = request.model_version or None
            # a request without an id is answered with the call's request id, as over HTTP
            result = await infer(self.service, body, request.model_name, version, call.request_id)
            call.times = result.times
            return response_of(result.answer)

        return await self._guarded("ModelInfer", context, answer)

    async def RepositoryModelLoad(
        self, request: pb2.RepositoryModelLoadRequest, context: grpc.aio.ServicerContext
    ) -> pb2.RepositoryModelLoadResponse:
        async def answer(call: RequestContext) -> pb2.RepositoryModelLoadResponse:
            call.model = request.model_name
            await self.repository.load(request.model_name)
            return pb2.RepositoryModelLoadResponse(model_name=request.model_name, isLoaded=True)

        return await self._guarded("RepositoryModelLoad", context, answer, control=True)

    async def RepositoryModelUnload(
        self, request: pb2.RepositoryModelUnloadRequest, context: grpc.aio.ServicerContext
    ) -> pb2.RepositoryModelUnloadResponse:
        async def answer(call: RequestContext) -> pb2.RepositoryModelUnloadResponse:
            call.model = request.model_name
            await self.repository.unload(request.model_name)
            return pb2.RepositoryModelUnloadResponse(model_name=request.model_name, isUnloaded=True)

        return await self._guarded("RepositoryModelUnload", context, answer, control=True)

    async def _guarded(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        answer: Callable[[RequestContext], Awaitable[T]],
        control: bool = False,
    ) -> T:
        """Check the key (the admin key for `control` methods), run, and turn any error into
        its status code; the call gets a request id, its metrics and an access-log line."""
        call = self.calls.begin(method, context)
        code = Code.OK
        try:
            self._authorize(context, control)
            return await answer(call.context)
        except Exception as error:
            code = grpc_code(error)
            await self._abort(context, call, error)
        finally:
            self.calls.end(call, code)

    def _authorize(self, context: grpc.aio.ServicerContext, control: bool) -> None:
        if control:
            token = bearer_token(metadata_value(context, "authorization"))
            authorize_control(self.admin_key, token, "the metadata `authorization: Bearer <key>`")
            return
        if self.key is None:
            return
        if not key_matches(bearer_token(metadata_value(context, "authorization")), self.key):
            raise Unauthorized(
                "missing or wrong API key; send the metadata `authorization: Bearer <key>`"
            )

    async def _abort(
        self, context: grpc.aio.ServicerContext, call: Call, error: Exception
    ) -> NoReturn:
        kind = status_and_type(error)[1]
        call.context.error_type = kind
        self.service.metrics.observe_error(kind)
        trailing = ((REQUEST_ID_KEY, call.request_id),)  # abort replaces the trailing metadata
        if isinstance(error, ServiceError):
            await context.abort(grpc_code(error), error.message, trailing)
        log.exception("unhandled error in gRPC %s", call.method)
        await context.abort(Code.INTERNAL, INTERNAL_MESSAGE, trailing)
