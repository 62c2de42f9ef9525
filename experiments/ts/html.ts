/** Escaping text for HTML and SVG markup, shared by the charts and the report page. */

/** `text` safe inside an element or a double-quoted attribute. */
export function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
