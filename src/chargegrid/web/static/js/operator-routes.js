// Routes of the operator's screens: #/chargers, #/sites/<id>/chargers, #/chargers/<id>,
// #/sessions[?site_id=&charger_id=&id_tag=&status=&from=&to=], #/sites/<id>/sessions.
// Each answers {page, trail(title)}: the page has el, start() -> its title, and stop().
import { ChargerPage } from "./charger-page.js";
import { ChargerTablePage } from "./charger-table.js";
import { SessionsPage } from "./sessions-page.js";

const SITES = { href: "#/", label: "Sites" };

export function operatorScreen(hash, identity) {
  const [path, search = ""] = hash.split("?");
  const query = Object.fromEntries(new URLSearchParams(search));
  let m;
  if (path === "#/chargers") {
    return screen(new ChargerTablePage(identity), () => [{ label: "Chargers" }]);
  }
  if ((m = /^#\/sites\/([^/]+)\/chargers$/.exec(path))) {
    const siteId = decodeURIComponent(m[1]);
    return screen(new ChargerTablePage(identity, siteId), (title) => [{ href: `#/sites/${siteId}`, label: "Site" }, { label: title }]);
  }
  if ((m = /^#\/chargers\/([^/]+)$/.exec(path))) {
    return screen(new ChargerPage(decodeURIComponent(m[1]), identity), (title) => [{ href: "#/chargers", label: "Chargers" }, { label: title }]);
  }
  if (path === "#/sessions") {
    return screen(new SessionsPage(identity, query), () => [{ label: "Sessions" }]);
  }
  if ((m = /^#\/sites\/([^/]+)\/sessions$/.exec(path))) {
    const siteId = decodeURIComponent(m[1]);
    return screen(new SessionsPage(identity, { ...query, site_id: siteId }), () => [{ href: `#/sites/${siteId}`, label: "Site" }, { label: "Sessions" }]);
  }
  return null;
}

function screen(page, trail) {
  return { page, trail: (title) => [SITES, ...trail(title)] };
}
