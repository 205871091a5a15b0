// The address of the result on screen, so that a link opens it and back/forward move between the
// results a person looked at. Written as #result/<id>; ?result=<id> is read too (a link made by
// hand or by another tool) and rewritten to the first form.

/** The result the address names, or null. */
export function resultIdFromAddress() {
  const hash = /^#result\/([^/?#]+)$/.exec(location.hash);
  if (hash) {
    try {
      return decodeURIComponent(hash[1]);
    } catch {
      return null; // a broken %-escape names nothing
    }
  }
  return new URLSearchParams(location.search).get("result") || null;
}

const addressOf = (id) => `${location.pathname}#result/${encodeURIComponent(id)}`;

/** The link that opens this result: the page's own address with the result in it. */
export function permalink(id) {
  return new URL(addressOf(id), location.href).toString();
}

/** Put the result in the address: a new history entry (`push`), or in place of the current one.
 * Nothing happens when the address already says so. */
export function setAddress(id, { push }) {
  const target = addressOf(id);
  if (`${location.pathname}${location.search}${location.hash}` === target) return;
  if (push) history.pushState({ result: id }, "", target);
  else history.replaceState({ result: id }, "", target);
}
