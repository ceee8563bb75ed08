// Numbers as people read them in a summary line.

/** At most two decimals, none for integers: 82.3456 -> "82.35", 120 -> "120". */
export function formatNumber(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** part / whole as a percentage with two decimals at most; 0 when whole is 0. */
export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 10_000) / 100 : 0;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 988800 -> "965.6 KiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}
