"""Administrators' actions that span services: a user's access, the clients' list."""

from __future__ import annotations

from app.errors import Conflict, NotFound
from app.services.clients import ClientService, ClientView
from app.services.sessions import SessionService, Staff
from app.services.users import UserService, UserView

__all__ = ["AdminService"]


class AdminService:
    def __init__(
        self, users: UserService, sessions: SessionService, clients: ClientService
    ) -> None:
        self.users = users
        self.sessions = sessions
        self.clients = clients

    def client_list(self) -> list[ClientView]:
        """Every client; "last used" times this process still holds are written first."""
        self.clients.flush_last_used()
        return self.clients.list()

    def set_user_disabled(self, user_id: int, disabled: bool, *, staff: Staff) -> UserView:
        """Disable (ending every session at once) or re-enable a user; never oneself.

        Raises:
            NotFound: no such user.
            Conflict: an admin disabling their own account.
        """
        target = next((u for u in self.users.list() if u.id == user_id), None)
        if target is None:
            raise NotFound(f"no user {user_id}")
        if disabled and target.id == staff.user_id:
            raise Conflict("you cannot disable your own account")
        view = self.users.set_disabled(target.username, disabled, actor=staff.actor)
        if disabled:
            self.sessions.end_all(target.id)
        return view
