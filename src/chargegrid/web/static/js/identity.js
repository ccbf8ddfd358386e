// Who the token belongs to, so the page offers only what the role may do. The API stays
// the judge (it answers 403); this only avoids offering forms that cannot succeed.
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
