"""Placeholder router; filled in by the issue that adds these endpoints."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
