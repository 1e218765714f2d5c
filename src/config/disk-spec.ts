/**
 * xl's disk specification (docs/man/xl-disk-configuration.5.pod), read as libxlu's disk lexer reads it
 * (tools/libs/util/libxlu_disk_l.l, libxlu_disk.c in Xen 4.17), into libxl_device_disk JSON.
 *
 * The lexer is flex: at each position every rule is tried, the longest match wins and a tie goes to the rule
 * written first. Rules with trailing context (`head/tail`) count the tail in the match length but consume only
 * the head. The table below keeps libxlu's rule order, so ties break the same way.
 */

export type DiskFormat = 'qcow' | 'qcow2' | 'vhd' | 'raw' | 'empty' | 'qed';
export type DiskBackend = 'phy' | 'tap' | 'qdisk' | 'standalone';

/** libxl_device_disk as libxl_device_disk_gen_json prints it: fields at their default are absent. */
export interface LibxlDiskJson {
  backend_domname?: string;
  pdev_path?: string;
  vdev?: string;
  backend?: DiskBackend;
  format?: DiskFormat;
  script?: string;
  removable?: number;
  readwrite?: number;
  is_cdrom?: number;
  direct_io_safe?: boolean;
  discard_enable?: 'True' | 'False';
  specification?: 'xen' | 'virtio';
  colo_enable?: 'True' | 'False';
  colo_host?: string;
  colo_port?: number;
  colo_export?: string;
  active_disk?: string;
  hidden_disk?: string;
  trusted?: 'True' | 'False';
}

/** A disk spec libxlu would refuse; `reason` is libxlu's complaint, `near` the text it points at. */
export class DiskSpecError extends Error {
  constructor(
    readonly reason: string,
    readonly near: string | undefined,
  ) {
    super(near === undefined ? reason : `${reason}: near '${near}'`);
    this.name = 'DiskSpecError';
  }
}

interface DiskState {
  backend_domname?: string | undefined;
  pdev_path?: string | undefined;
  vdev?: string | undefined;
  backend?: DiskBackend | undefined;
  format?: DiskFormat | undefined;
  script?: string | undefined;
  specification?: 'xen' | 'virtio' | undefined;
  removable: boolean;
  readwrite: boolean;
  is_cdrom: boolean;
  direct_io_safe: boolean;
  discard_enable?: boolean | undefined;
  colo_enable?: boolean | undefined;
  colo_host?: string | undefined;
  colo_port?: number | undefined;
  colo_export?: string | undefined;
  active_disk?: string | undefined;
  hidden_disk?: string | undefined;
  hadDeprecatedPrefix: boolean;
  accessSet: boolean;
}

type StringField = 'backend_domname' | 'pdev_path' | 'vdev' | 'script' | 'colo_host' | 'colo_export' | 'active_disk' | 'hidden_disk';

const FORMATS: Readonly<Record<string, DiskFormat>> = {
  '': 'raw',
  raw: 'raw',
  qcow: 'qcow',
  qcow2: 'qcow2',
  vhd: 'vhd',
  empty: 'empty',
  qed: 'qed',
};
const BACKENDS: readonly DiskBackend[] = ['phy', 'tap', 'qdisk', 'standalone'];

/** libxlu's savestring: a non-empty value may not be given twice. */
function saveString(disk: DiskState, field: StringField, what: string, value: string): void {
  const current = disk[field];
  if (current !== undefined && current !== '') throw new DiskSpecError(`${what} respecified`, value);
  disk[field] = value;
}

function setFormat(disk: DiskState, text: string): void {
  const format = FORMATS[text];
  if (format === undefined) throw new DiskSpecError('unknown value for format', text);
  if (disk.format !== undefined && disk.format !== format) throw new DiskSpecError('format respecified', text);
  disk.format = format;
}

function setAccess(disk: DiskState, text: string): void {
  if (text === 'r' || text === 'ro') disk.readwrite = false;
  else if (text === 'rw' || text === 'w' || text === '') disk.readwrite = true;
  else throw new DiskSpecError('unknown value for access', text);
}

function setBackendType(disk: DiskState, text: string): void {
  const backend = BACKENDS.find((b) => b === text);
  if (backend === undefined) throw new DiskSpecError('unknown value for backendtype', text);
  if (disk.backend !== undefined && disk.backend !== backend) throw new DiskSpecError('backend respecified', text);
  disk.backend = backend;
}

function setSpecification(disk: DiskState, text: string): void {
  if (text !== 'xen' && text !== 'virtio') throw new DiskSpecError('unknown value for specification', text);
  if (disk.specification !== undefined && disk.specification !== text) {
    throw new DiskSpecError('specification respecified', text);
  }
  disk.specification = text;
}

/** `<vdev>:<devtype>`, the deprecated form; returns false (doing nothing) when there is no colon. */
function vdevAndDevtype(disk: DiskState, text: string): boolean {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return false;
  saveString(disk, 'vdev', 'vdev', text.slice(0, colon));
  const devtype = text.slice(colon + 1);
  if (devtype === 'cdrom') disk.is_cdrom = true;
  else if (devtype === 'disk') disk.is_cdrom = false;
  else throw new DiskSpecError('unknown deprecated type', devtype);
  return true;
}

/** Drops one trailing comma, as libxlu's STRIP(','). */
function strip(text: string): string {
  return text.endsWith(',') ? text.slice(0, -1) : text;
}

function afterEquals(text: string): string {
  return text.slice(text.indexOf('=') + 1);
}

function positional(disk: DiskState, token: string): void {
  const text = strip(token);
  if (disk.pdev_path === undefined) {
    saveString(disk, 'pdev_path', 'target', text);
  } else if (!disk.hadDeprecatedPrefix && disk.format === undefined) {
    if (disk.pdev_path === '' && vdevAndDevtype(disk, text)) disk.format = 'empty';
    else setFormat(disk, text);
  } else if (disk.vdev === undefined) {
    if (!vdevAndDevtype(disk, text)) saveString(disk, 'vdev', 'vdev', text);
  } else if (!disk.accessSet) {
    disk.accessSet = true;
    setAccess(disk, text);
  } else {
    throw new DiskSpecError('too many positional parameters', text);
  }
}

interface Rule {
  head: RegExp;
  /** Trailing context: counted in the match length, not consumed. */
  tail?: RegExp;
  action: (disk: DiskState, text: string) => void;
}

const rule = (head: string, action: Rule['action'], tail?: string): Rule =>
  tail === undefined ? { head: new RegExp(head, 'y'), action } : { head: new RegExp(head, 'y'), tail: new RegExp(tail, 'y'), action };

const saveRule = (key: string, field: StringField, what: string): Rule =>
  rule(`${key}=[^,]*,?`, (d, t) => saveString(d, field, what, afterEquals(strip(t))));

/** libxlu_disk_l.l's rules, in its order. `[^\n]` stands for flex's `.`. */
const RULES: readonly Rule[] = [
  rule('[ \\t\\n]+', () => {}, '(?:[^ \\t\\n][^\\n]*)?'),
  rule('format=[^,]*,?', (d, t) => setFormat(d, afterEquals(strip(t)))),
  rule('cdrom,?', (d) => (d.is_cdrom = true)),
  rule('devtype=cdrom,?', (d) => (d.is_cdrom = true)),
  rule('devtype=disk,?', (d) => (d.is_cdrom = false)),
  rule('devtype=[^,]*,?', (_d, t) => {
    throw new DiskSpecError('unknown value for type', t);
  }),
  rule('access=[^,]*,?', (d, t) => setAccess(d, afterEquals(strip(t)))),
  saveRule('backend', 'backend_domname', 'backend'),
  rule('backendtype=[^,]*,?', (d, t) => setBackendType(d, afterEquals(strip(t)))),
  rule('specification=[^,]*,?', (d, t) => setSpecification(d, afterEquals(strip(t)))),
  saveRule('vdev', 'vdev', 'vdev'),
  saveRule('script', 'script', 'script'),
  rule('direct-io-safe,?', (d) => (d.direct_io_safe = true)),
  rule('discard,?', (d) => (d.discard_enable = true)),
  rule('no-discard,?', (d) => (d.discard_enable = false)),
  rule('colo,?', (d) => (d.colo_enable = true)),
  rule('no-colo,?', (d) => (d.colo_enable = false)),
  saveRule('colo-host', 'colo_host', 'colo-host'),
  rule('colo-port=[^,]*,?', (d, t) => {
    const text = afterEquals(strip(t));
    const port = cAtoi(text);
    if (port === 0) throw new DiskSpecError('unknown value for colo_port', text);
    d.colo_port = port;
  }),
  saveRule('colo-export', 'colo_export', 'colo-export'),
  saveRule('active-disk', 'active_disk', 'active-disk'),
  saveRule('hidden-disk', 'hidden_disk', 'hidden-disk'),
  // libxlu_disk_l.l in 4.17 also lists `trusted,?` and `untrusted,?`, but the lexer shipped and built in 4.17
  // (libxlu_disk_l.c, generated before those rules were added) lacks them: xl 4.17 reads both words as
  // positional parameters. Verified against Debian's xl 4.17.7, so they are left out here too.
  // `target=` takes the rest of the spec, commas included.
  rule('target=[^\\n]*', (d, t) => saveString(d, 'pdev_path', 'target', afterEquals(strip(t)))),
  rule('[a-z][-a-z0-9]*=[^,],?', (_d, t) => {
    throw new DiskSpecError('unknown parameter', t);
  }),
  rule(
    '(?:raw|qcow2?|vhd):',
    (d, t) => {
      d.hadDeprecatedPrefix = true;
      setFormat(d, t.slice(0, -1));
    },
    '[^\\n]*',
  ),
  rule(
    '(?:iscsi|e?nbd|drbd):',
    (d, t) => {
      d.hadDeprecatedPrefix = true;
      saveString(d, 'script', 'script', `block-${t.slice(0, -1)}`);
    },
    '[^\\n]*',
  ),
  rule('tapdisk:', (d) => (d.hadDeprecatedPrefix = true), '[^\\n]*'),
  rule('tap2?:', (d) => (d.hadDeprecatedPrefix = true), '[^\\n]*'),
  rule('aio:', (d) => (d.hadDeprecatedPrefix = true), '[^\\n]*'),
  rule('ioemu:', (d) => (d.hadDeprecatedPrefix = true), '[^\\n]*'),
  rule('file:', (d) => (d.hadDeprecatedPrefix = true), '[^\\n]*'),
  rule('phy:', (d) => (d.hadDeprecatedPrefix = true), '[^\\n]*'),
  rule(
    '[a-z][a-z0-9]*:',
    (_d, t) => {
      throw new DiskSpecError('unknown deprecated disk prefix', t);
    },
    '(?:[^a-z0-9\\n][^\\n]*)?',
  ),
  rule('[^=,]*,|[^=,]+', positional),
];

/** C's atoi: optional space and sign, then decimal digits; 0 when there are none. */
function cAtoi(text: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  return m ? Number.parseInt(m[1]!, 10) : 0;
}

function lexOne(spec: string, pos: number, disk: DiskState): number {
  let best: { rule: Rule; head: string; length: number } | undefined;
  for (const r of RULES) {
    r.head.lastIndex = pos;
    const m = r.head.exec(spec);
    if (!m || m[0].length === 0) continue;
    let length = m[0].length;
    if (r.tail) {
      r.tail.lastIndex = pos + m[0].length;
      const t = r.tail.exec(spec);
      if (!t) continue;
      length += t[0].length;
    }
    if (!best || length > best.length) best = { rule: r, head: m[0], length };
  }
  if (!best) {
    // flex's `.` then `<LEXERR>.*`
    throw new DiskSpecError('bad disk syntax', /^[^\n]*/.exec(spec.slice(pos))![0] || spec[pos]);
  }
  best.rule.action(disk, best.head);
  return pos + best.head.length;
}

/** Parses one xl disk spec into libxl_device_disk JSON. Throws DiskSpecError where libxlu fails. */
export function parseDiskSpec(spec: string): LibxlDiskJson {
  const disk: DiskState = {
    removable: false,
    readwrite: true,
    is_cdrom: false,
    direct_io_safe: false,
    hadDeprecatedPrefix: false,
    accessSet: false,
  };
  for (let pos = 0; pos < spec.length; ) pos = lexOne(spec, pos, disk);

  if (disk.format === undefined) disk.format = 'raw';
  if (disk.is_cdrom) {
    disk.removable = true;
    disk.readwrite = false;
    if (disk.pdev_path === undefined || disk.pdev_path === '') disk.format = 'empty';
  }
  if (disk.vdev === undefined) throw new DiskSpecError('no vdev specified', undefined);
  if (disk.pdev_path === undefined && !disk.removable) {
    throw new DiskSpecError('no target specified (and device not removable)', undefined);
  }
  return toJson(disk);
}

const defbool = (value: boolean | undefined): 'True' | 'False' | undefined =>
  value === undefined ? undefined : value ? 'True' : 'False';

/** In libxl_types.idl order, leaving out what libxl's JSON generator leaves out (defaults). */
function toJson(d: DiskState): LibxlDiskJson {
  const json: LibxlDiskJson = {};
  const put = <K extends keyof LibxlDiskJson>(key: K, value: LibxlDiskJson[K] | undefined): void => {
    if (value !== undefined) json[key] = value;
  };
  put('backend_domname', d.backend_domname);
  put('pdev_path', d.pdev_path);
  put('vdev', d.vdev);
  put('backend', d.backend);
  put('format', d.format);
  put('script', d.script);
  put('removable', d.removable ? 1 : undefined);
  put('readwrite', d.readwrite ? 1 : undefined);
  put('is_cdrom', d.is_cdrom ? 1 : undefined);
  put('direct_io_safe', d.direct_io_safe ? true : undefined);
  put('discard_enable', defbool(d.discard_enable));
  put('specification', d.specification);
  put('colo_enable', defbool(d.colo_enable));
  put('colo_host', d.colo_host);
  put('colo_port', d.colo_port);
  put('colo_export', d.colo_export);
  put('active_disk', d.active_disk);
  put('hidden_disk', d.hidden_disk);
  return json;
}
