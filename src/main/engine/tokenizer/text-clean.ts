import { htmlUnescape } from './html-unescape';

/**
 * Prompt clean-up before CLIP BPE, as openai/CLIP `simple_tokenizer.py` does it:
 * `whitespace_clean(basic_clean(text)).lower()`, where basic_clean = ftfy.fix_text, html.unescape
 * twice, strip. HF's CLIPTokenizer does the same when ftfy is installed, and SD was trained on it.
 *
 * ftfy is Python-only. `fixTextLite` applies the deterministic parts of `ftfy.fix_text` that change
 * ordinary typed text (its full mojibake repair is out of scope): latin ligatures, full-width
 * characters, curly quotes, control characters and NFC normalization, in ftfy's order.
 */

// ftfy.chardata.LIGATURES
// prettier-ignore
const LIGATURES: Record<string, string> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn', '\u01f1': 'DZ', '\u01f2': 'Dz',
  '\u01f3': 'dz', '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e', '\u01c7': 'LJ',
  '\u01c8': 'Lj', '\u01c9': 'lj', '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj', '\ufb00': 'ff',
  '\ufb01': 'fi', '\ufb02': 'fl', '\ufb03': 'ffi', '\ufb04': 'ffl', '\ufb05': '\u017ft',
  '\ufb06': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');

// ftfy.fixes.fix_character_width: U+3000 → space, U+FF01..U+FFEF → their NFKC form.
const WIDE_RE = /[\u3000\uff01-\uffef]/g;
function narrow(ch: string): string {
  return ch === '\u3000' ? ' ' : ch.normalize('NFKC');
}

// ftfy.fixes.uncurl_quotes
const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;

// ftfy.chardata.CONTROL_CHARS (removed by remove_control_chars); \t \n \f \r are kept.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

/** The deterministic subset of `ftfy.fix_text` described above. */
export function fixTextLite(text: string): string {
  return text
    .replace(LIGATURE_RE, (ch) => LIGATURES[ch] ?? ch)
    .replace(WIDE_RE, narrow)
    .replace(SINGLE_QUOTE_RE, "'")
    .replace(DOUBLE_QUOTE_RE, '"')
    .replace(CONTROL_RE, '')
    .normalize('NFC');
}

// Python's str.strip() strips Unicode White_Space plus U+001C..U+001F.
// eslint-disable-next-line no-control-regex
const LEADING_SPACE = /^[\p{White_Space}\u001c-\u001f]+/u;
// eslint-disable-next-line no-control-regex
const TRAILING_SPACE = /[\p{White_Space}\u001c-\u001f]+$/u;
export function pythonStrip(text: string): string {
  return text.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
}

/** simple_tokenizer.basic_clean: ftfy, html.unescape twice, strip. */
export function basicClean(text: string): string {
  return pythonStrip(htmlUnescape(htmlUnescape(fixTextLite(text))));
}

// The `regex` module's \s in a str pattern is the Unicode White_Space property.
const WHITESPACE_RUN = /\p{White_Space}+/gu;

/** simple_tokenizer.whitespace_clean: every whitespace run becomes one space, then strip. */
export function whitespaceClean(text: string): string {
  return pythonStrip(text.replace(WHITESPACE_RUN, ' '));
}

/** The full pre-BPE normalization: whitespace_clean(basic_clean(text)).lower(). */
export function cleanPrompt(text: string): string {
  return whitespaceClean(basicClean(text)).toLowerCase();
}
