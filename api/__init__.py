"""The HTTP API of contract 9 (FastAPI): commands become events, reads come from documents."""

from api.app import API_VERSION, create_app
from api.auth import Authenticator, Caller
from api.deps import ApiDeps
from api.probes import ProbeSources, probes_router
from api.ratelimit import RateLimiter

__all__ = [
    "API_VERSION",
    "ApiDeps",
    "Authenticator",
    "Caller",
    "ProbeSources",
    "RateLimiter",
    "create_app",
    "probes_router",
]
