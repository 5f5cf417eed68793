const regexCache = new Map<string, RegExp>();

/** Envoy's regex matching: RE2 against the whole string, not a substring search. */
export function fullMatch(regex: string, value: string): boolean {
  let re = regexCache.get(regex);
  if (!re) {
    re = new RegExp(`^(?:${regex})$`);
    regexCache.set(regex, re);
  }
  return re.test(value);
}
