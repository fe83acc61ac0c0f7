// Shared set-up for every SDK test file: the official SDK pointed at the Ballast under test.
import Parse from 'parse/node';

Parse.initialize(process.env.PARSE_APP_ID, undefined, process.env.PARSE_MASTER_KEY);
Parse.serverURL = process.env.PARSE_SERVER_URL;

export default Parse;
