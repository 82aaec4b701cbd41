// The footer's credits: the data sets the loaded model was trained on, as their licences ask
// (name, who made it, licence). The manifest may come from ?model=, so only web links are kept.

/** `url` if it is an http(s) address, else null (no javascript: or data: links on the page). */
export function webLink(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The SPDX page of a licence identifier such as "CC-BY-4.0". */
export function licenceLink(licence) {
  return `https://spdx.org/licenses/${encodeURIComponent(licence)}.html`;
}

/**
 * One credit per data set of `sources` (ModelInfo.sources): its name and link, who made it, its
 * licence and the licence's link.
 */
export function credits(sources) {
  return (sources ?? []).map((s) => ({
    name: String(s.name),
    url: webLink(s.url),
    credit: String(s.credit),
    licence: String(s.licence),
    licenceUrl: licenceLink(String(s.licence)),
  }));
}

/** Fills `element` with the credits of `sources`; hides it when there are none. */
export function showCredits(element, sources) {
  const list = credits(sources);
  element.hidden = list.length === 0;
  element.replaceChildren(list.length ? 'Data: ' : '');
  list.forEach((c, i) => {
    if (i > 0) element.append(' · ');
    element.append(link(c.name, c.url), ` by ${c.credit} (`, link(c.licence, c.licenceUrl), ')');
  });
}

function link(text, href) {
  if (!href) return text;
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  a.rel = 'noopener';
  a.target = '_blank';
  return a;
}
