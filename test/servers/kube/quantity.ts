/**
 * Kubernetes resource quantities (`100m`, `2`, `512Mi`, `1Gi`, `1G`, `1000k`, `1e3`, ...).
 *
 * Grammar (from k8s.io/apimachinery/pkg/api/resource):
 *   <quantity> ::= <signedNumber><suffix>
 *   <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
 *   <binarySI> ::= Ki | Mi | Gi | Ti | Pi | Ei
 *   <decimalSI>::= n | u | m | "" | k | M | G | T | P | E
 *   <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>
 *
 * Values are handled as JavaScript numbers in base units (cores, bytes, pods), which is exact for
 * everything a simulated cluster needs (millicores, byte counts below 2^53).
 */

const BINARY: Record<string, number> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

const QUANTITY_RE = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

export type QuantityFormat = 'DecimalSI' | 'BinarySI';

/** True when `s` is a syntactically valid quantity. */
export function isQuantity(s: string): boolean {
  return QUANTITY_RE.test(s.trim());
}

/**
 * Parse a quantity into base units: `parseQuantity("250m") === 0.25`,
 * `parseQuantity("1Gi") === 1073741824`, `parseQuantity("1e3") === 1000`.
 * Throws `Error` on malformed input.
 */
export function parseQuantity(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new Error(`quantity must be finite: ${input}`);
    return input;
  }
  const s = input.trim();
  const m = QUANTITY_RE.exec(s);
  if (!m) throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "${input}"`);
  const mantissa = m[1] ?? '0';
  const num = Number(mantissa);
  const suffix = m[2] ?? '';
  let factor: number;
  if (suffix in BINARY) factor = BINARY[suffix] ?? 1;
  else if (suffix in DECIMAL) factor = DECIMAL[suffix] ?? 1;
  else factor = 10 ** Number(suffix.slice(1)); // exponent form
  // Multiply via the decimal string where possible to avoid 0.1*1e-3-style float noise.
  return factor < 1 ? Number(`${mantissa}e${Math.round(Math.log10(factor))}`) : num * factor;
}

/** CPU quantity → millicores, rounded up like `Quantity.MilliValue()` ("1.5m" → 2). */
export function cpuToMillis(q: string | number): number {
  return Math.ceil(parseQuantity(q) * 1000 - 1e-9);
}

/** Memory (or any integer) quantity → whole units, rounded up like `Quantity.Value()`. */
export function quantityToInt(q: string | number): number {
  return Math.ceil(parseQuantity(q) - 1e-9);
}

/** Millicores → canonical CPU quantity: 250 → "250m", 2000 → "2", 1500 → "1500m". */
export function formatCpu(millis: number): string {
  return formatQuantity(millis / 1000, 'DecimalSI');
}

/** Bytes → canonical memory quantity: 16 GiB → "16Gi", 1e9 → "1G", 1500 → "1500". */
export function formatMemory(bytes: number): string {
  return formatQuantity(bytes, 'BinarySI');
}

/**
 * Format a value in base units the way the API server canonicalises quantities:
 * the largest suffix that represents the value exactly. `BinarySI` prefers Ki/Mi/Gi/...
 * and falls back to decimal notation when the value is not a multiple of 1024.
 */
export function formatQuantity(value: number, format: QuantityFormat = 'DecimalSI'): string {
  if (!Number.isFinite(value)) throw new Error(`cannot format non-finite quantity ${value}`);
  if (value === 0) return '0';
  if (value < 0) return `-${formatQuantity(-value, format)}`;
  if (format === 'BinarySI' && Number.isInteger(value) && value >= 1024) {
    const big = BigInt(value);
    const suffixes: [string, bigint][] = [['Ei', 1n << 60n], ['Pi', 1n << 50n], ['Ti', 1n << 40n], ['Gi', 1n << 30n], ['Mi', 1n << 20n], ['Ki', 1n << 10n]];
    for (const [suffix, unit] of suffixes) {
      if (big % unit === 0n) return `${big / unit}${suffix}`;
    }
  }
  if (Number.isInteger(value)) {
    const digits = BigInt(value).toString();
    const zeros = digits.length - digits.replace(/0+$/, '').length;
    const exp = Math.min(Math.floor(zeros / 3) * 3, 18);
    const suffix = ['', 'k', 'M', 'G', 'T', 'P', 'E'][exp / 3] ?? '';
    return `${digits.slice(0, digits.length - exp)}${suffix}`;
  }
  // Fractional: express in m, u or n (rounded to nano precision, up like the API server does).
  const nanos = Math.ceil(Math.round(value * 1e12) / 1e3);
  if (nanos % 1e6 === 0) return `${nanos / 1e6}m`;
  if (nanos % 1e3 === 0) return `${nanos / 1e3}u`;
  return `${nanos}n`;
}

/** Re-format a quantity string canonically ("0.5" → "500m", "1024Mi" → "1Gi"). */
export function canonicalQuantity(q: string, format?: QuantityFormat): string {
  const fmt = format ?? (/[KMGTPE]i$/.test(q.trim()) ? 'BinarySI' : 'DecimalSI');
  return formatQuantity(parseQuantity(q), fmt);
}

/**
 * Resolve an int-or-percent value such as a Deployment's `maxSurge` ("25%" or 1) against a total.
 * `roundUp` selects ceil (maxSurge) vs floor (maxUnavailable), like the deployment controller.
 */
export function resolveIntOrPercent(v: string | number | undefined, total: number, roundUp: boolean, dflt: string): number {
  const raw = v ?? dflt;
  if (typeof raw === 'number') return raw;
  const m = /^(\d+)%$/.exec(raw.trim());
  if (!m) return Number.parseInt(raw, 10) || 0;
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}
