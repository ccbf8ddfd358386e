"""Vendor-compatible APIs (issue 17): point a Zaptec, AMPECO, Plugchoice or Spirii
integration at chargegrid by changing its base URL (docs/compat.md).

Each vendor is a *surface*: its own paths, field names, status codes and error shape
under ``/compat/<vendor>``, mapped onto the services ``/api/v1`` uses — the same
validation, roles, audit, events and load manager. A surface holds no rule of its own:
it renames fields, converts units and ids, calls ``services/configure``, and shapes the
answer. A rule changed there changes for every surface.

How a surface plugs in
----------------------
1. A module ``compat/<vendor>.py`` (or a package) builds an ``APIRouter`` with the
   vendor's paths (relative to the prefix), and exposes
   ``SURFACE = Surface(tag="Spirii", prefix="/compat/spirii", router=router,
   render_error=<vendor error shape>, field_names={our: theirs})``
   (``compat/surface.py``). ``render_error`` turns a ``VendorError`` (status, message,
   field errors, headers) into the vendor's JSON; every error below the prefix goes
   through it (unknown path, 405, 401, 403, 404, 409, 422, 429, 500), none through
   problem+json.
2. Its routes authenticate with ``compat/auth.py``: ``BearerCtx`` / ``KeyCtx`` give a
   ``ConfigContext`` (our tokens, roles, site scopes and rate limit; ``KeyCtx`` also takes
   the bare key without ``Bearer``), ``BearerCaller`` / ``KeyCaller`` only the caller.
3. Ids in paths go through ``compat/ids.py``: ``await resolve(ctx.uow, AliasKind.EVSE,
   uid)`` takes our UUID or the thing's integer alias (``store/aliases.py``: every site,
   circuit, charger, EVSE and connector has one, given by the database as the row is
   inserted) and raises NotFound (the vendor's 404) for neither; ``alias``/``aliases``
   give the numbers to answer with.
4. Values go through ``compat/validation.validated_as(<the /api/v1 request model>,
   body, {theirs: ours})`` (our ranges, enums and validators, no copy), then to the
   service; ``surface.error_responses`` documents the error statuses with the vendor's
   error model.
5. Add the module's ``SURFACE`` to ``surfaces()`` below (one line). ``app.build_app``
   mounts each under its prefix; its OpenAPI document is ``<prefix>/openapi.json``,
   tagged with the vendor's name (``/api/v1/openapi.json`` is unchanged).
"""

from __future__ import annotations

from chargegrid.compat.surface import Surface, VendorError, mount_surface

__all__ = ["Surface", "VendorError", "mount_surface", "surfaces"]


def surfaces() -> list[Surface]:
    """Every vendor surface the app serves, each under its own prefix."""
    from chargegrid.compat import ampeco, plugchoice, spirii, zaptec

    return [zaptec.SURFACE, ampeco.SURFACE, plugchoice.SURFACE, spirii.SURFACE]
