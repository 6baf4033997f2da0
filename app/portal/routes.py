"""The victims' reporting page (placeholder router; the page is being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
