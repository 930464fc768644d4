/** The adapter conformance suite on the embedded log (no broker needed, but real sockets: integration tier). */
import { describeAdapterConformance } from './adapter-suite.js';

describeAdapterConformance('embedded');
