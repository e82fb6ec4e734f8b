/**
 * Python's `html.unescape`, which openai's CLIP tokenizer applies (twice) to every prompt.
 * The algorithm is Python's (numeric references with its replacement rules for invalid code
 * points, the longest-prefix rule for names without `;`). The name table is HTML 4's 252 entities
 * plus `&apos;` (HTML5's values for `lang`/`rang`), which covers what people type; HTML5's other
 * ~2,000 names (e.g. `&Cconint;`) are left as they are, where Python would decode them.
 */

// HTML 4 Latin-1 entity names for U+00A0..U+00FF, in code point order.
const LATIN1_NAMES =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn ' +
  'sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave ' +
  'Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc ' +
  'Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml ' +
  'Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc ' +
  'euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ' +
  'ugrave uacute ucirc uuml yacute thorn yuml';

// Greek capitals U+0391..U+03A9 (U+03A2 is unassigned) and small letters U+03B1..U+03C9.
const GREEK_UPPER =
  'Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi Rho - ' +
  'Sigma Tau Upsilon Phi Chi Psi Omega';
const GREEK_LOWER =
  'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho ' +
  'sigmaf sigma tau upsilon phi chi psi omega';

// The rest of HTML 4 (special characters and symbols) plus apos, as name:codepoint.
// prettier-ignore
const OTHER_ENTITIES: Record<string, number> = {
  quot: 34, amp: 38, apos: 39, lt: 60, gt: 62, OElig: 338, oelig: 339, Scaron: 352, scaron: 353,
  Yuml: 376, fnof: 402, circ: 710, tilde: 732, thetasym: 977, upsih: 978, piv: 982, ensp: 8194,
  emsp: 8195, thinsp: 8201, zwnj: 8204, zwj: 8205, lrm: 8206, rlm: 8207, ndash: 8211,
  mdash: 8212, lsquo: 8216, rsquo: 8217, sbquo: 8218, ldquo: 8220, rdquo: 8221, bdquo: 8222,
  dagger: 8224, Dagger: 8225, bull: 8226, hellip: 8230, permil: 8240, prime: 8242, Prime: 8243,
  lsaquo: 8249, rsaquo: 8250, oline: 8254, frasl: 8260, euro: 8364, image: 8465, weierp: 8472,
  real: 8476, trade: 8482, alefsym: 8501, larr: 8592, uarr: 8593, rarr: 8594, darr: 8595,
  harr: 8596, crarr: 8629, lArr: 8656, uArr: 8657, rArr: 8658, dArr: 8659, hArr: 8660,
  forall: 8704, part: 8706, exist: 8707, empty: 8709, nabla: 8711, isin: 8712, notin: 8713,
  ni: 8715, prod: 8719, sum: 8721, minus: 8722, lowast: 8727, radic: 8730, prop: 8733,
  infin: 8734, ang: 8736, and: 8743, or: 8744, cap: 8745, cup: 8746, int: 8747, there4: 8756,
  sim: 8764, cong: 8773, asymp: 8776, ne: 8800, equiv: 8801, le: 8804, ge: 8805, sub: 8834,
  sup: 8835, nsub: 8836, sube: 8838, supe: 8839, oplus: 8853, otimes: 8855, perp: 8869,
  sdot: 8901, lceil: 8968, rceil: 8969, lfloor: 8970, rfloor: 8971, lang: 0x27e8, rang: 0x27e9,
  loz: 9674, spades: 9824, clubs: 9827, hearts: 9829, diams: 9830,
};

// Names HTML5 also accepts without the trailing ';' (the legacy set).
const LEGACY_EXTRA = ['AMP', 'COPY', 'GT', 'LT', 'QUOT', 'REG', 'amp', 'gt', 'lt', 'quot'];

function buildTable(): Map<string, string> {
  const withSemicolon = new Map<string, string>();
  const table = new Map<string, string>();
  LATIN1_NAMES.split(' ').forEach((name, i) => {
    const ch = String.fromCodePoint(0xa0 + i);
    withSemicolon.set(name, ch);
    table.set(name, ch); // every Latin-1 name is legacy (valid without ';')
  });
  const addGreek = (names: string, first: number): void => {
    names.split(' ').forEach((name, i) => {
      if (name !== '-') withSemicolon.set(name, String.fromCodePoint(first + i));
    });
  };
  addGreek(GREEK_UPPER, 0x391);
  addGreek(GREEK_LOWER, 0x3b1);
  for (const [name, cp] of Object.entries(OTHER_ENTITIES)) {
    withSemicolon.set(name, String.fromCodePoint(cp));
  }
  for (const [name, ch] of withSemicolon) table.set(`${name};`, ch);
  for (const name of LEGACY_EXTRA) table.set(name, withSemicolon.get(name.toLowerCase()) ?? '');
  table.set('AMP;', '&');
  table.set('COPY;', '\u00a9');
  table.set('GT;', '>');
  table.set('LT;', '<');
  table.set('QUOT;', '"');
  table.set('REG;', '\u00ae');
  return table;
}

let entityTable: Map<string, string> | undefined;

// Python's html._invalid_charrefs: C1 references are read as windows-1252, NUL and CR fixed up.
// prettier-ignore
const INVALID_CHARREFS: Record<number, string> = {
  0x00: '\ufffd', 0x0d: '\r', 0x80: '\u20ac', 0x81: '\x81', 0x82: '\u201a', 0x83: '\u0192',
  0x84: '\u201e', 0x85: '\u2026', 0x86: '\u2020', 0x87: '\u2021', 0x88: '\u02c6', 0x89: '\u2030',
  0x8a: '\u0160', 0x8b: '\u2039', 0x8c: '\u0152', 0x8d: '\x8d', 0x8e: '\u017d', 0x8f: '\x8f',
  0x90: '\x90', 0x91: '\u2018', 0x92: '\u2019', 0x93: '\u201c', 0x94: '\u201d', 0x95: '\u2022',
  0x96: '\u2013', 0x97: '\u2014', 0x98: '\u02dc', 0x99: '\u2122', 0x9a: '\u0161', 0x9b: '\u203a',
  0x9c: '\u0153', 0x9d: '\x9d', 0x9e: '\u017e', 0x9f: '\u0178',
};

// Python's html._invalid_codepoints: control characters and noncharacters decode to nothing.
function isInvalidCodepoint(cp: number): boolean {
  return (
    (cp >= 0x1 && cp <= 0x8) ||
    cp === 0xb ||
    (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe // U+xFFFE / U+xFFFF in every plane
  );
}

function replaceNumeric(ref: string): string {
  const hex = ref[1] === 'x' || ref[1] === 'X';
  const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
  const cp = parseInt(digits, hex ? 16 : 10);
  if (cp in INVALID_CHARREFS) return INVALID_CHARREFS[cp];
  if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || !Number.isFinite(cp)) return '\ufffd';
  if (isInvalidCodepoint(cp)) return '';
  return String.fromCodePoint(cp);
}

function replaceNamed(ref: string): string {
  entityTable ??= buildTable();
  const exact = entityTable.get(ref);
  if (exact !== undefined) return exact;
  // Longest prefix that is a name valid without ';' (e.g. "&ampx" → "&x").
  for (let len = ref.length - 1; len > 1; len--) {
    const hit = entityTable.get(ref.slice(0, len));
    if (hit !== undefined) return hit + ref.slice(len);
  }
  return `&${ref}`;
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/** Decode HTML character references the way Python's `html.unescape` does. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (_match, ref: string) =>
    ref[0] === '#' ? replaceNumeric(ref) : replaceNamed(ref),
  );
}
