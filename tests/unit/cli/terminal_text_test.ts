import { assertEquals } from "../../../harness/assert.ts";
import { terminalText } from "../../../cli/terminal_text.ts";

Deno.test("terminalText: the characters that reorder or hide text are shown, not obeyed; the joiners scripts and emoji need are kept", () => {
  // A right-to-left override makes "pay 5 USD\u202e..." read backwards on a terminal.
  assertEquals(terminalText("lunch\u202edsu 0005"), "lunch\\u{202e}dsu 0005");
  assertEquals(
    terminalText("a\u200bb\u200ec\u200fd\u2066e\u2069f\ufeffg"),
    "a\\u{200b}b\\u{200e}c\\u{200f}d\\u{2066}e\\u{2069}f\\u{feff}g",
  );
  // Zero-width joiner and non-joiner stay: a family emoji, a Persian word.
  assertEquals(terminalText("👨\u200d👩"), "👨\u200d👩");
  assertEquals(terminalText("می\u200cخواهم"), "می\u200cخواهم");
  // The controls as before.
  assertEquals(terminalText("\x1b[2J\u009b"), "\\x1b[2J\\u{9b}");
});
