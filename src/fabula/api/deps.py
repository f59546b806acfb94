"""Typed dependencies for routes: the app's state and who is asking, declared once.

A route says `state: State, owner: Owner` and gets an `AppState` and the signed-in user (None in
local mode) with their types, instead of digging `request.app.state` out as `Any`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from fabula.api.app import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.fabula  # type: ignore[no-any-return]


async def get_owner(request: Request) -> str | None:
    return await get_state(request).owner(request)


State = Annotated["AppState", Depends(get_state)]
Owner = Annotated[str | None, Depends(get_owner)]
