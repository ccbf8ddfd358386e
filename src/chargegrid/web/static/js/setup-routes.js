// Routes of the setup screens (site setup, id tags, pending chargers), kept out of
// main.js so the router there stays a short list. Each page has el, start() (resolves
// to {name} for the breadcrumb) and stop().
import { IdTagsPage } from "./id-tags-page.js";
import { PendingChargersPage } from "./pending-chargers.js";
import { NewSitePage, SiteSetupPage } from "./site-setup.js";

const SITES = { href: "#/", label: "Sites" };

/** The page for `hash`, or null when it is not one of these routes. */
export function setupRoute(hash, identity) {
  let match;
  if (hash === "#/id-tags") return { page: new IdTagsPage(identity), trail: () => [SITES, { label: "Id tags" }] };
  if (hash === "#/pending") return { page: new PendingChargersPage(identity), trail: () => [SITES, { label: "Pending chargers" }] };
  if (hash === "#/sites/new") return { page: new NewSitePage(identity), trail: () => [SITES, { label: "New site" }] };
  if ((match = /^#\/sites\/([^/]+)\/setup$/.exec(hash))) {
    const id = decodeURIComponent(match[1]);
    return {
      page: new SiteSetupPage(id, identity),
      trail: (site) => [SITES, { href: `#/sites/${encodeURIComponent(id)}`, label: site?.name ?? "…" }, { label: "Set up" }],
    };
  }
  return null;
}
