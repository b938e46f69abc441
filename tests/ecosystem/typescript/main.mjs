// Runs flow.ts (compiled to out/flow.js) against a stack:
// node main.mjs BASE_URL USERNAME PASSWORD PROJECT_KEY PDF_PATH writes the report's PDF to PDF_PATH.
import { writeFile } from "node:fs/promises";
import { projectReport } from "./out/flow.js";

const [baseUrl, username, password, projectKey, pdfPath] = process.argv.slice(2);
const pdf = await projectReport(baseUrl, username, password, projectKey);
await writeFile(pdfPath, new Uint8Array(pdf));
