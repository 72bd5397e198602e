/** UTF-8 at token boundaries, as llama-server judges them. */

/**
 * llama-server's test for "the text so far ends inside a character" (tools/server/
 * server-common.cpp, validate_utf8): a lead byte among the last four bytes with fewer bytes after
 * it than its sequence needs. Only the end is looked at; invalid bytes elsewhere do not count.
 */
export function endsInsideCharacter(bytes: Uint8Array): boolean {
  const len = bytes.length;
  for (let i = 1; i <= 4 && i <= len; i++) {
    const c = bytes[len - i]!;
    if ((c & 0xe0) === 0xc0) {
      if (i < 2) return true;
    } else if ((c & 0xf0) === 0xe0) {
      if (i < 3) return true;
    } else if ((c & 0xf8) === 0xf0) {
      if (i < 4) return true;
    }
  }
  return false;
}

const decoder = new TextDecoder('utf-8');

/**
 * The text of bytes that may end inside a character: the open character is left out, as vLLM's
 * incremental detokenizer leaves out a character its last token did not finish (tokenizers'
 * DecodeStream returns nothing for it).
 */
export function textOfCompleteCharacters(bytes: Uint8Array): string {
  let end = bytes.length;
  // Drop an open sequence at the end (at most 3 bytes of a 4-byte character).
  for (let i = 1; i <= 3 && i <= bytes.length; i++) {
    const c = bytes[bytes.length - i]!;
    if ((c & 0xc0) === 0x80) continue; // continuation: look further back
    const need = (c & 0xe0) === 0xc0 ? 2 : (c & 0xf0) === 0xe0 ? 3 : (c & 0xf8) === 0xf0 ? 4 : 1;
    if (need > i) end = bytes.length - i;
    break;
  }
  return decoder.decode(bytes.subarray(0, end));
}
