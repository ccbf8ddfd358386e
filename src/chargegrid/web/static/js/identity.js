// Who the token belongs to, so the page offers only what the role may do. The API stays
// the judge (it answers 403); this only avoids offering forms that cannot succeed.
// The rules mirror services/auth.py (Principal.require_*) and services/configure/*.
import { api, ApiError } from "./api.js";

export const ROLES = ["admin", "service", "owner", "viewer"];

/** {role, site_ids} of the current token; role null when the server does not say. */
export async function whoAmI() {
  try {
    const me = await api("/auth/me");
    return { role: ROLES.includes(me.role) ? me.role : null, site_ids: me.site_ids ?? null };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return { role: null, site_ids: null };
    throw err;
  }
}

/** What a role may change. An unknown role (older server) is offered everything: the API decides. */
export function rightsOf(identity) {
  const role = identity?.role ?? null;
  const technical = role === null || role === "admin" || role === "service";
  const unscoped = !identity?.site_ids;
  return {
    // Operational settings: available current, charger limits, id tags.
    write: role !== "viewer",
    // Fuse ratings, wiring, circuits, chargers' identity and placement.
    technical,
    // A new site: technical, and a site-scoped token could not see it unless admin.
    createSite: technical && (unscoped || role === "admin" || role === null),
    // Unplaced (pending) chargers are visible to unscoped tokens only.
    seesUnplaced: unscoped,
  };
}
