// RFC 3339 date-time as the schema's `date-time` format accepts it: `T`, `t`
// or white space between date and time, `Z`/`z` or an offset with or without
// minutes, a leap second (:60), any number of fraction digits.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt\s](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;

/**
 * RFC 3339 date-time -> epoch ms, or null when it is not one. Not Date.parse: it answers NaN for a leap
 * second and for an offset without minutes (`+01`), both valid here, and a
 * NaN bound would reach the database. A fraction finer than a millisecond is
 * rounded up, so "at or after" stays exact on millisecond change times; a
 * leap second counts as the first instant of the next minute.
 */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, year, month, day, hour, minute, second, fraction = '', sign, offH = '0', offM = '0'] = m;
  const t = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  t.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  t.setUTCHours(Number(hour), Number(minute), Number(second), Number(fraction.slice(0, 3).padEnd(3, '0')));
  let ms = t.getTime();
  if (/[1-9]/.test(fraction.slice(3))) ms += 1;
  if (sign) ms -= (sign === '+' ? 1 : -1) * (Number(offH) * 60 + Number(offM)) * 60_000;
  return ms;
}
