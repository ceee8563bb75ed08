// Aurora Serverless v2 capacity in ACU (Aurora capacity units), as RDS accepts it: steps of 0.5;
// minimum 0 (auto-pause, on engines that support it) to 256; maximum above 0.5, so 1 to 256; the
// minimum never above the maximum. Checked before any call so a person is told why at plan time.

export const MAX_ACU = 256;

/** "8", "0.5". */
export function formatAcu(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 10) / 10);
}

export function formatRange(range: { min: number; max: number } | undefined): string {
  return range ? `${formatAcu(range.min)}..${formatAcu(range.max)} ACU` : 'no Serverless v2 capacity range';
}

const halfStep = (v: number) => Number.isFinite(v) && Math.round(v * 2) === v * 2;

/** Why RDS would refuse this range, or undefined when it is valid. */
export function capacityProblem(min: number, max: number): string | undefined {
  if (typeof min !== 'number' || !halfStep(min)) return `minimum ${String(min)} ACU is not valid: capacity goes in steps of 0.5 ACU (0, 0.5, 1, 1.5…)`;
  if (typeof max !== 'number' || !halfStep(max)) return `maximum ${String(max)} ACU is not valid: capacity goes in steps of 0.5 ACU (1, 1.5, 2…)`;
  if (min < 0 || min > MAX_ACU) return `minimum ${formatAcu(min)} ACU is outside 0..${MAX_ACU} ACU`;
  if (max < 1 || max > MAX_ACU) return `maximum ${formatAcu(max)} ACU is outside 1..${MAX_ACU} ACU (Aurora needs a maximum above 0.5 ACU)`;
  if (min > max) return `minimum ${formatAcu(min)} ACU is above maximum ${formatAcu(max)} ACU`;
  return undefined;
}
