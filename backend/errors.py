"""Parse error codes and the domain error tree.

Every failure that reaches a client is a ``ParseError`` rendered as
``{"code": N, "error": "..."}``. Services and storage raise these; only
``status_for`` (used by the one HTTP handler in ``backend.api``) knows statuses.

    ParseError (1, internal)
    * WriteConflict (1)               -> 500; the database ended the transaction (deadlock,
                                         serialization): nothing was written, running it again may succeed
    * TooManyRequests (100)           -> 429, as parse-server's rateLimit
    * DatabaseUnavailable (100)       -> 503 with Retry-After: the database is unreachable or busy, try again
    * ObjectNotFound (101)            -> 404
    * InvalidQuery (102)
    * InvalidClassName (103)
    * MissingObjectId (104)
    * InvalidKeyName (105)
    * InvalidPointer (106)
    * InvalidJSON (107)
    * IncorrectType (111)
    * ObjectTooLarge (116)            -> 413
    * OperationForbidden (119)        -> 403 when it is a missing key, else 400
    * InvalidNestedKey (121)
    * InvalidACL (123)
    * DuplicateValue (137)
    * ScriptFailed (141)
    * ValidationFailed (142)
    * DuplicateRequest (159)
    * InvalidValue (162)
    * InvalidSessionToken (209)
    * InvalidSchemaOperation (255)
    * Unauthorized                    -> 403 {"error": "unauthorized"}, as parse-server
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ParseCode(IntEnum):
    """Parse.Error codes, as the SDKs know them."""

    OTHER_CAUSE = -1
    INTERNAL_SERVER_ERROR = 1
    CONNECTION_FAILED = 100
    OBJECT_NOT_FOUND = 101
    INVALID_QUERY = 102
    INVALID_CLASS_NAME = 103
    MISSING_OBJECT_ID = 104
    INVALID_KEY_NAME = 105
    INVALID_POINTER = 106
    INVALID_JSON = 107
    COMMAND_UNAVAILABLE = 108
    INCORRECT_TYPE = 111
    OBJECT_TOO_LARGE = 116
    OPERATION_FORBIDDEN = 119
    INVALID_NESTED_KEY = 121
    INVALID_FILE_NAME = 122
    INVALID_ACL = 123
    TIMEOUT = 124
    INVALID_EMAIL_ADDRESS = 125
    FILE_TOO_LARGE = 129
    FILE_SAVE_ERROR = 130
    MISSING_REQUIRED_FIELD = 135
    CHANGED_IMMUTABLE_FIELD = 136
    DUPLICATE_VALUE = 137
    INVALID_ROLE_NAME = 139
    SCRIPT_FAILED = 141
    VALIDATION_ERROR = 142
    FILE_DELETE_ERROR = 153
    REQUEST_LIMIT_EXCEEDED = 155
    DUPLICATE_REQUEST = 159
    INVALID_VALUE = 162
    USERNAME_MISSING = 200
    PASSWORD_MISSING = 201
    USERNAME_TAKEN = 202
    EMAIL_TAKEN = 203
    EMAIL_MISSING = 204
    EMAIL_NOT_FOUND = 205
    SESSION_MISSING = 206
    ACCOUNT_ALREADY_LINKED = 208
    INVALID_SESSION_TOKEN = 209
    UNSUPPORTED_SERVICE = 252
    INVALID_SCHEMA_OPERATION = 255


class ParseError(Exception):
    """A failure with a Parse code; the message is safe to show a client."""

    code: ClassVar[ParseCode] = ParseCode.INTERNAL_SERVER_ERROR
    default_message: ClassVar[str] = "Internal server error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def to_wire(self) -> dict[str, object]:
        return {"code": int(self.code), "error": self.message}


def error_for_code(code: int, message: str) -> ParseError:
    """A ParseError carrying an arbitrary code (cloud code may raise any)."""
    known = _BY_CODE.get(code)
    if known is not None:
        return known(message)
    error = ParseError(message)
    error.code = code  # type: ignore[misc,assignment]  # an instance may carry any app-defined code
    return error


class ObjectNotFound(ParseError):
    code = ParseCode.OBJECT_NOT_FOUND
    default_message = "Object not found."


class InvalidQuery(ParseError):
    code = ParseCode.INVALID_QUERY
    default_message = "Invalid query."


class InvalidClassName(ParseError):
    code = ParseCode.INVALID_CLASS_NAME
    default_message = "Invalid class name."


class ClassNotFound(InvalidClassName):
    default_message = "Class does not exist."


class MissingObjectId(ParseError):
    code = ParseCode.MISSING_OBJECT_ID
    default_message = "objectId is required."


class InvalidKeyName(ParseError):
    code = ParseCode.INVALID_KEY_NAME
    default_message = "Invalid field name."


class InvalidPointer(ParseError):
    code = ParseCode.INVALID_POINTER
    default_message = "Invalid pointer."


class InvalidJSON(ParseError):
    code = ParseCode.INVALID_JSON
    default_message = "Invalid JSON."


class IncorrectType(ParseError):
    code = ParseCode.INCORRECT_TYPE
    default_message = "Incorrect type."


class ObjectTooLarge(ParseError):
    code = ParseCode.OBJECT_TOO_LARGE
    default_message = "The request is too large."


class OperationForbidden(ParseError):
    code = ParseCode.OPERATION_FORBIDDEN
    default_message = "Permission denied for this action."


class InvalidNestedKey(ParseError):
    code = ParseCode.INVALID_NESTED_KEY
    default_message = "Invalid nested key."


class InvalidACL(ParseError):
    code = ParseCode.INVALID_ACL
    default_message = "Invalid ACL."


class DuplicateValue(ParseError):
    code = ParseCode.DUPLICATE_VALUE
    default_message = "A duplicate value for a field with unique values was provided."
    field: str | None = None  # the unique field broken, when storage can tell


class ScriptFailed(ParseError):
    code = ParseCode.SCRIPT_FAILED
    default_message = "Cloud code failed."


class ValidationFailed(ParseError):
    code = ParseCode.VALIDATION_ERROR
    default_message = "Validation failed."


class DuplicateRequest(ParseError):
    code = ParseCode.DUPLICATE_REQUEST
    default_message = "Duplicate request."


class InvalidValue(ParseError):
    code = ParseCode.INVALID_VALUE
    default_message = "Invalid value."


class InvalidSessionToken(ParseError):
    code = ParseCode.INVALID_SESSION_TOKEN
    default_message = "Invalid session token."


class InvalidSchemaOperation(ParseError):
    code = ParseCode.INVALID_SCHEMA_OPERATION
    default_message = "Invalid schema operation."


class WriteConflict(ParseError):
    """The database rolled the transaction back to break a deadlock or a serialization conflict.

    Nothing of it was written; the same work run again in a new transaction may well succeed.
    """

    default_message = "The request collided with another write and was rolled back; nothing was changed. Try again."


class TooManyRequests(ParseError):
    code = ParseCode.CONNECTION_FAILED
    default_message = "Too many requests."


class DatabaseUnavailable(ParseError):
    """The database could not be reached, lost the connection or stayed busy: the request may be sent again.

    Parse's ConnectionFailed; a write that failed this way did not commit, or (the connection lost during its
    commit) may have: the idempotency options make a retry of such a write safe."""

    code = ParseCode.CONNECTION_FAILED
    default_message = "The database is unavailable right now; try again."


class Unauthorized(ParseError):
    """No valid application id or key: parse-server answers 403 without a code."""

    code = ParseCode.OPERATION_FORBIDDEN
    default_message = "unauthorized"

    def to_wire(self) -> dict[str, object]:
        return {"error": self.message}


class MasterKeyRequired(Unauthorized):
    """An operation that needs the master key, as parse-server's 403 answer."""

    default_message = "unauthorized: master key is required"


_BY_CODE: dict[int, type[ParseError]] = {
    cls.code: cls
    for cls in (
        ObjectNotFound, InvalidQuery, InvalidClassName, MissingObjectId, InvalidKeyName,
        InvalidPointer, InvalidJSON, IncorrectType, ObjectTooLarge, OperationForbidden,
        InvalidNestedKey, InvalidACL, DuplicateValue, ScriptFailed, ValidationFailed,
        DuplicateRequest, InvalidValue, InvalidSessionToken, InvalidSchemaOperation,
    )
}

_STATUS_BY_TYPE: dict[type[ParseError], int] = {
    Unauthorized: 403,
    ObjectTooLarge: 413,
    TooManyRequests: 429,
    DatabaseUnavailable: 503,
}
RETRY_AFTER_SECONDS = 1  # what a DatabaseUnavailable answer tells a client to wait (a restart, a busy writer)


def headers_for(error: ParseError) -> dict[str, str]:
    """HTTP headers an error's answer carries besides its body (Retry-After on a retryable 503)."""
    return {"Retry-After": str(RETRY_AFTER_SECONDS)} if isinstance(error, DatabaseUnavailable) else {}


def status_for(error: ParseError) -> int:
    """HTTP status for an error, after parse-server's middlewares.handleParseErrors."""
    for cls in type(error).__mro__:
        if cls in _STATUS_BY_TYPE:
            return _STATUS_BY_TYPE[cls]
    if error.code == ParseCode.OBJECT_NOT_FOUND:
        return 404
    if error.code == ParseCode.INTERNAL_SERVER_ERROR:
        return 500
    return 400
