/**
 * The xl.cfg syntax, read the way Xen 4.17's libxlu reads it (tools/libs/util/libxlu_cfg_l.l, libxlu_cfg_y.y,
 * libxlu_cfg.c). Only the syntax lives here; what the keys mean is to-libxl.ts's job.
 *
 * What libxlu accepts, and so what this accepts:
 * - `key = value` or `key += value`, ended by a newline, `;` or the end of the file. Keys are `[a-z][._0-9a-z]*`.
 * - Values are atoms or lists. An atom is a 'single' or "double" quoted string, or a number token
 *   `[0-9][0-9a-fx]*`; both are kept as text (libxlu converts numbers only when a key is read as one).
 * - Lists `[ a, b, ]` may nest, may end with a comma and may span lines; newlines are allowed only inside lists
 *   (xl.cfg has no line continuations).
 * - `#` starts a comment that runs to the end of the line; libxlu needs that newline, so a comment on the last
 *   line of a file without a final newline is an error, as in xl.
 * - Escapes in strings: \" \' \\ \a \b \f \n \r \t \v. libxlu 4.17 rejects every \x escape and silently drops
 *   octal escapes; this parser rejects both, with a message that says so.
 * - A later setting of a key replaces an earlier one; `+=` appends to the previous string or list.
 * Anything else (Python, uppercase keys, CR-LF line endings) is an error, as it is for xl.
 */
import { ConfigError } from './config-error.js';

/**
 * Deepest list nesting accepted. No xl key nests lists more than two deep (vnuma's list of lists); libxlu's bison
 * parser would run out of its stack near 10,000 levels and JavaScript's well before that, so a deeper file is
 * refused with its place instead.
 */
export const MAX_LIST_DEPTH = 32;

export interface XlString {
  kind: 'string';
  value: string;
  line: number;
  column: number;
}

export interface XlList {
  kind: 'list';
  items: XlValue[];
  line: number;
  column: number;
}

export type XlValue = XlString | XlList;

export interface XlSetting {
  name: string;
  op: '=' | '+=';
  /** For `+=`, the value after appending to the earlier one. */
  value: XlValue;
  /** Where the key is. */
  line: number;
  column: number;
}

export class XlConfig {
  constructor(
    readonly file: string,
    /** Every setting in file order, including ones a later setting replaced. */
    readonly settings: readonly XlSetting[],
  ) {}

  /** The setting that counts for `name`: the last one, as libxlu's lookup finds it. */
  get(name: string): XlSetting | undefined {
    for (let i = this.settings.length - 1; i >= 0; i--) {
      const setting = this.settings[i]!;
      if (setting.name === name) return setting;
    }
    return undefined;
  }

  /** Distinct keys, in order of first appearance. */
  keys(): string[] {
    return [...new Set(this.settings.map((s) => s.name))];
  }
}

type TokenType = 'IDENT' | 'NUMBER' | 'STRING' | 'NEWLINE' | ',' | '[' | ']' | '=' | '+=' | ';' | 'EOF';

interface Token {
  type: TokenType;
  /** The source text of the token. */
  text: string;
  /** For STRING: the dequoted value; for IDENT and NUMBER: the text. */
  value: string;
  line: number;
  column: number;
}

const IDENT = /[a-z][._0-9a-z]*/y;
const NUMBER = /[0-9][0-9a-fx]*/y;
const COMMENT = /#[^\n]*\n/y;
const SINGLE_QUOTED = /'(?:[^'\\\n]|\\[^\n])*'/y;
const DOUBLE_QUOTED = /"(?:[^"\\\n]|\\[^\n])*"/y;
/** libxlu's lexer flags these as a sign the file is Python (xm's format). */
const PYTHONISH = '+-.():';

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

function matchAt(re: RegExp, text: string, pos: number): string | undefined {
  re.lastIndex = pos;
  const m = re.exec(text);
  return m ? m[0] : undefined;
}

class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  /** Just after the last token that was not a newline: where "end of file" is reported, as xl reports it. */
  private lastEnd = { line: 1, column: 1 };

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  private fail(pos: number, reason: string): never {
    throw new ConfigError({ file: this.file, line: this.line, column: pos - this.lineStart + 1 }, reason);
  }

  private token(type: TokenType, text: string, value = text): Token {
    const tok = { type, text, value, line: this.line, column: this.pos - this.lineStart + 1 };
    this.pos += text.length;
    if (type === 'NEWLINE') {
      this.line++;
      this.lineStart = this.pos;
    } else {
      this.lastEnd = { line: this.line, column: this.pos - this.lineStart + 1 };
    }
    return tok;
  }

  next(): Token {
    const { text } = this;
    for (;;) {
      const ch = text[this.pos];
      if (ch === undefined) return { type: 'EOF', text: '', value: '', ...this.lastEnd };
      if (ch === ' ' || ch === '\t') {
        this.pos++;
        continue;
      }
      if (ch >= 'a' && ch <= 'z') return this.token('IDENT', matchAt(IDENT, text, this.pos)!);
      if (ch >= '0' && ch <= '9') return this.token('NUMBER', matchAt(NUMBER, text, this.pos)!);
      if (ch === '\n') return this.token('NEWLINE', ch);
      if (ch === ',' || ch === '[' || ch === ']' || ch === '=' || ch === ';') return this.token(ch, ch);
      if (ch === '+' && text[this.pos + 1] === '=') return this.token('+=', '+=');
      if (ch === '#') {
        const comment = matchAt(COMMENT, text, this.pos);
        if (comment === undefined) {
          this.fail(this.pos, 'a comment on the last line must end with a newline (xl rejects it otherwise)');
        }
        return this.token('NEWLINE', comment);
      }
      if (ch === "'" || ch === '"') {
        const quoted = matchAt(ch === "'" ? SINGLE_QUOTED : DOUBLE_QUOTED, text, this.pos);
        if (quoted === undefined) {
          this.fail(this.pos, `unterminated string: a ${ch === "'" ? 'single' : 'double'}-quoted string must close on the line it starts`);
        }
        return this.token('STRING', quoted, this.dequote(quoted));
      }
      this.lexicalError(ch);
    }
  }

  private lexicalError(ch: string): never {
    if (ch === '\r') this.fail(this.pos, 'carriage return: xl reads only Unix line endings (convert the file, e.g. with dos2unix)');
    if (ch === '\\') this.fail(this.pos, "unexpected '\\': xl.cfg has no line continuations (a [list] may span lines)");
    if (ch >= 'A' && ch <= 'Z') {
      this.fail(this.pos, `unexpected '${ch}': keys are lowercase ([a-z][._0-9a-z]*) and other text must be quoted`);
    }
    if (PYTHONISH.includes(ch)) {
      this.fail(this.pos, `unexpected '${ch}': xl.cfg is not Python (no expressions, signs or calls; quote text, e.g. "${ch}...")`);
    }
    this.fail(this.pos, `unexpected character ${JSON.stringify(ch)}`);
  }

  /** libxlu's xlu__cfgl_dequote, except that numeric escapes are refused rather than mangled. */
  private dequote(quoted: string): string {
    let out = '';
    for (let i = 1; i < quoted.length - 1; i++) {
      const c = quoted[i]!;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const nc = quoted[++i]!;
      const simple = SIMPLE_ESCAPES[nc];
      if (simple !== undefined) {
        out += simple;
      } else if (nc === 'x') {
        this.fail(this.pos + i - 1, 'hex escape \\x in a quoted string: xl 4.17 rejects every \\x escape; write the character itself');
      } else if (nc >= '0' && nc <= '7') {
        this.fail(this.pos + i - 1, `octal escape \\${nc} in a quoted string: xl 4.17 silently drops octal escapes; write the character itself`);
      } else {
        this.fail(this.pos + i - 1, `invalid escape \\${nc} in a quoted string (accepted: \\" \\' \\\\ \\a \\b \\f \\n \\r \\t \\v)`);
      }
    }
    return out;
  }
}

function describe(tok: Token): string {
  switch (tok.type) {
    case 'IDENT':
      return `name '${tok.text}'`;
    case 'NUMBER':
      return `number ${tok.text}`;
    case 'STRING':
      return `string ${tok.text}`;
    case 'NEWLINE':
      return tok.text === '\n' ? 'end of line' : 'comment';
    case 'EOF':
      return 'end of file';
    default:
      return `'${tok.text}'`;
  }
}

class Parser {
  private tok: Token;
  private readonly settings: XlSetting[] = [];
  private readonly latest = new Map<string, XlSetting>();

  constructor(
    private readonly lexer: Lexer,
    private readonly file: string,
  ) {
    this.tok = lexer.next();
  }

  /** The lookahead token (a method, so TypeScript does not carry narrowing across advance()). */
  private peek(): Token {
    return this.tok;
  }

  private advance(): Token {
    const tok = this.tok;
    this.tok = this.lexer.next();
    return tok;
  }

  private fail(tok: Token, reason: string, key?: string): never {
    throw new ConfigError({ file: this.file, line: tok.line, column: tok.column, key }, reason);
  }

  parse(): XlConfig {
    for (;;) {
      const tok = this.tok;
      if (tok.type === 'EOF') break;
      if (tok.type === 'NEWLINE' || tok.type === ';') {
        this.advance();
        continue;
      }
      if (tok.type !== 'IDENT') {
        this.fail(tok, `expected a setting (key = value), found ${describe(tok)}`);
      }
      const name = this.assignment();
      const end = this.tok;
      if (end.type === 'EOF') break;
      if (end.type !== 'NEWLINE' && end.type !== ';') {
        this.fail(end, `expected the end of the line or ';' after the value of '${name}', found ${describe(end)}`, name);
      }
      this.advance();
    }
    return new XlConfig(this.file, this.settings);
  }

  private assignment(): string {
    const key = this.advance();
    const opTok = this.tok;
    if (opTok.type !== '=' && opTok.type !== '+=') {
      this.fail(opTok, `expected '=' or '+=' after '${key.text}', found ${describe(opTok)}`, key.text);
    }
    this.advance();
    let value = this.value(key.text);
    const op = opTok.type;
    if (op === '+=') {
      const previous = this.latest.get(key.text);
      if (previous) value = this.append(key.text, previous, value);
    }
    const setting: XlSetting = { name: key.text, op, value, line: key.line, column: key.column };
    this.settings.push(setting);
    this.latest.set(key.text, setting);
    return key.text;
  }

  private append(name: string, previous: XlSetting, added: XlValue): XlValue {
    if (previous.value.kind === 'string' && added.kind === 'string') {
      return { ...added, value: previous.value.value + added.value };
    }
    if (previous.value.kind === 'list' && added.kind === 'list') {
      return { ...added, items: [...previous.value.items, ...added.items] };
    }
    throw new ConfigError(
      { file: this.file, line: added.line, column: added.column, key: name },
      `'${name}' += cannot add a ${added.kind} to the ${previous.value.kind} set at line ${previous.line}`,
    );
  }

  private value(key: string, depth = 0): XlValue {
    const tok = this.tok;
    if (tok.type === 'STRING' || tok.type === 'NUMBER') {
      this.advance();
      return { kind: 'string', value: tok.value, line: tok.line, column: tok.column };
    }
    if (tok.type === '[') {
      if (depth === MAX_LIST_DEPTH) this.fail(tok, `lists in '${key}' nest more than ${MAX_LIST_DEPTH} deep (no xl key nests them more than 2 deep)`, key);
      return this.list(key, depth + 1);
    }
    this.fail(tok, `expected a value for '${key}' (a quoted string, a number or a [list]), found ${describe(tok)}`, key);
  }

  private skipNewlines(): void {
    while (this.tok.type === 'NEWLINE') this.advance();
  }

  private list(key: string, depth: number): XlList {
    const open = this.advance();
    const items: XlValue[] = [];
    this.skipNewlines();
    for (;;) {
      if (this.tok.type === ']') break;
      if (this.tok.type !== 'STRING' && this.tok.type !== 'NUMBER' && this.tok.type !== '[') {
        const expected = items.length === 0 ? "a value or ']'" : "a value or ']' after ','";
        this.fail(this.tok, `in the list for '${key}' (opened at line ${open.line}): expected ${expected}, found ${describe(this.tok)}`, key);
      }
      items.push(this.value(key, depth));
      this.skipNewlines();
      const after = this.peek();
      if (after.type === ',') {
        this.advance();
        this.skipNewlines();
        continue;
      }
      if (after.type !== ']') {
        this.fail(after, `in the list for '${key}' (opened at line ${open.line}): expected ',' or ']', found ${describe(this.tok)}`, key);
      }
    }
    this.advance();
    return { kind: 'list', items, line: open.line, column: open.column };
  }
}

/** Parses xl.cfg text. Throws ConfigError (FILE:LINE:COL) on the first syntax error. */
export function parseXlConfig(text: string, fileName: string): XlConfig {
  return new Parser(new Lexer(text, fileName), fileName).parse();
}
