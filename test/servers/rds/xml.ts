// XML as the RDS Query API writes it: one namespace on the response element, lists as repeated
// member elements (<DBClusters><DBCluster>…), doubles the way Java prints them ("16.0"), and
// errors in <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.

export const RDS_XMLNS = 'http://rds.amazonaws.com/doc/2014-10-31/';

/** A value, or a nested element list; undefined/null members are left out, as RDS leaves out unset fields. */
export type XmlValue = string | number | boolean | XmlNode | XmlList | XmlInt | XmlValue[] | undefined | null;
export interface XmlNode {
  [name: string]: XmlValue;
}

/** Marks a list whose items are written as <member>…</member> elements inside the list element. */
export class XmlList {
  constructor(
    readonly member: string,
    readonly items: XmlValue[],
  ) {}
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function scalar(value: string | number | boolean): string {
  if (typeof value === 'number') return Number.isInteger(value) ? `${value}.0` : String(value);
  return escapeXml(String(value));
}

/** Integers that RDS types as Integer (PromotionTier, Port…) must not get the ".0" of a Double. */
export class XmlInt {
  constructor(readonly value: number) {}
}

export function element(name: string, value: XmlValue): string {
  if (value === undefined || value === null) return '';
  if (value instanceof XmlInt) return `<${name}>${Math.trunc(value.value)}</${name}>`;
  if (value instanceof XmlList) return `<${name}>${value.items.map((item) => element(value.member, item)).join('')}</${name}>`;
  if (Array.isArray(value)) return value.map((item) => element(name, item)).join('');
  if (typeof value === 'object') return `<${name}>${children(value)}</${name}>`;
  return `<${name}>${scalar(value)}</${name}>`;
}

export function children(node: XmlNode): string {
  return Object.entries(node)
    .map(([name, value]) => element(name, value))
    .join('');
}

export function responseXml(action: string, result: XmlNode | undefined, requestId: string): string {
  const body = result ? element(`${action}Result`, result) : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${RDS_XMLNS}">${body}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>\n`;
}

export function errorXml(type: 'Sender' | 'Receiver', code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${RDS_XMLNS}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>\n`;
}
