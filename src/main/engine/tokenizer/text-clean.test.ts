import { describe, expect, it } from 'vitest';
import { htmlUnescape } from './html-unescape';
import { cleanPrompt, fixTextLite, pythonStrip, whitespaceClean } from './text-clean';

describe('htmlUnescape (Python html.unescape semantics)', () => {
  it('decodes named, decimal and hex references', () => {
    expect(htmlUnescape('rock &amp; roll &lt;3 &#39;hi&#x27; &eacute;t&eacute;')).toBe(
      "rock & roll <3 'hi' été",
    );
  });
  it('accepts legacy names without a semicolon, by longest prefix', () => {
    expect(htmlUnescape('&amp &copy2024 &ampx')).toBe('& ©2024 &x');
  });
  it('leaves unknown names and non-legacy names without ";" alone', () => {
    expect(htmlUnescape('&nosuch; &hellip &hellip;')).toBe('&nosuch; &hellip …');
  });
  it('maps invalid numeric references like Python', () => {
    expect(htmlUnescape('&#0; &#x80; &#1; &#xD800; &#x110000;')).toBe(
      '\ufffd \u20ac  \ufffd \ufffd',
    );
  });
  it('is applied twice by the tokenizer, so double-escaped text decodes fully', () => {
    expect(cleanPrompt('a &amp;amp; b')).toBe('a & b');
  });
});

describe('fixTextLite (deterministic part of ftfy.fix_text)', () => {
  it('uncurls quotes, splits ligatures, narrows full-width forms', () => {
    expect(fixTextLite('\u201cﬁne\u201d \u2018x\u2019 ＡＢＣ１\u3000z')).toBe(
      '"fine" \'x\' ABC1 z',
    );
  });
  it('removes control characters but keeps tabs and newlines', () => {
    expect(fixTextLite('a\u0000b\ufeffc\td\ne')).toBe('abc\td\ne');
  });
  it('normalizes to NFC', () => {
    expect(fixTextLite('cafe\u0301')).toBe('caf\u00e9');
  });
});

describe('whitespace handling', () => {
  it('collapses every Unicode whitespace run to one space and strips', () => {
    expect(whitespaceClean('  a\t\tb\n\u00a0c\u2003 ')).toBe('a b c');
  });
  it('strips like Python str.strip (U+001C..U+001F too)', () => {
    expect(pythonStrip('\u001f x \u3000')).toBe('x');
  });
  it('lowercases after cleaning', () => {
    expect(cleanPrompt('  A Photo  OF a CAT ')).toBe('a photo of a cat');
  });
});
