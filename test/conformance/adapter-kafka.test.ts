/** The adapter conformance suite on the Kafka backend (the harness broker). */
import { describeAdapterConformance } from './adapter-suite.js';

describeAdapterConformance('kafka');
