"""Achievement templates: one TOML file per kind of credential, in the workspace's `achievements/` folder.

Invariants: a template is validated completely when loaded (unknown keys, bad URLs, unknown achievement
types and malformed validity periods are errors before any record is read); `achievement()` renders the
Open Badges 3.0 `Achievement` object every credential of the batch embeds.
"""

import hashlib
import re
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from anchoring.errors import InvalidInput
from anchoring.receipt import describe

# Open Badges 3.0 AchievementType enumeration; "ext:..." extends it.
ACHIEVEMENT_TYPES = frozenset(
    "Achievement ApprenticeshipCertificate Assessment Assignment AssociateDegree Award Badge BachelorDegree "
    "Certificate CertificateOfCompletion Certification CommunityService Competency Course CoCurricular Degree "
    "Diploma DoctoralDegree Fieldwork GeneralEducationDevelopment JourneymanCertificate LearningProgram License "
    "Membership ProfessionalDoctorate QualityAssuranceCredential MasterCertificate MasterDegree MicroCredential "
    "ResearchDoctorate SecondarySchoolDiploma".split()
)
RESULT_TYPES = frozenset(
    "GradePointAverage LetterGrade Percent PerformanceLevel PredictedScore RawScore Result RubricCriterion "
    "RubricCriterionLevel RubricScore ScaledScore Status".split()
)
# Open Badges 3.0 AlignmentTargetType enumeration; "ext:..." extends it.
ALIGNMENT_TARGET_TYPES = frozenset(
    "ceasn:Competency ceterms:Credential CFItem CFRubric CFRubricCriterion CFRubricCriterionLevel CTDL".split()
)
_PERIOD = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _url(value: str) -> str:
    if not re.fullmatch(r"(https?://[^\s]+|did:[a-z0-9]+:[^\s]+|urn:[^\s]+)", value):
        raise ValueError("must be an http(s) URL, a DID or a URN")
    return value


def _achievement_type(value: str) -> str:
    if value not in ACHIEVEMENT_TYPES and not re.fullmatch(r"ext:[A-Za-z0-9]+", value):
        raise ValueError(f"unknown achievement type {value!r} (Open Badges 3.0 AchievementType or ext:Name)")
    return value


def _alignment_target_type(value: str) -> str:
    if value not in ALIGNMENT_TARGET_TYPES and not re.fullmatch(r"ext:[A-Za-z0-9]+", value):
        known = ", ".join(sorted(ALIGNMENT_TARGET_TYPES))
        raise ValueError(f"unknown alignment target type {value!r} (one of {known}, or ext:Name)")
    return value


def _period(value: str) -> str:
    match = _PERIOD.fullmatch(value)
    if not match or not any(match.groups()):
        raise ValueError(f"validity {value!r} must be an ISO 8601 period of years, months, days: P2Y, P18M, P90D")
    return value


def _result_type(value: str) -> str:
    if value not in RESULT_TYPES and not re.fullmatch(r"ext:[A-Za-z0-9]+", value):
        raise ValueError(f"unknown result type {value!r}")
    return value


def _image_file(value: str) -> str:
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "~")) or ".." in parts or ":" in parts[0]:
        raise ValueError(f"{value!r} must be a path inside the achievements folder (no '/', '~' or '..' first)")
    if not value.lower().endswith((".png", ".svg")):
        raise ValueError(f"{value!r} must be a .png or .svg file")
    return value


Url = Annotated[str, AfterValidator(_url)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Alignment(_Strict):
    target_name: Text
    target_url: Url
    target_description: Text | None = None
    target_framework: Text | None = None
    target_code: Text | None = None
    target_type: Annotated[str, AfterValidator(_alignment_target_type)] | None = None


class ResultSpec(_Strict):
    name: Text = "Result"
    result_type: Annotated[str, AfterValidator(_result_type)] = "Result"


class Template(_Strict):
    key: str = Field(exclude=True)
    source_sha256: str = Field(default="", exclude=True)
    """sha256 of the template file as read: part of a batch's identity."""
    name: Text
    description: Text
    criteria: Text
    achievement_type: Annotated[str, AfterValidator(_achievement_type)] = "Achievement"
    id: Url | None = None
    image: Url | None = None
    image_file: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_image_file)] | None = None
    """The badge picture baked for earners: a PNG or SVG file, relative to the achievements folder."""
    credits_available: Annotated[float, Field(ge=0)] | None = None
    validity: Annotated[str, AfterValidator(_period)] | None = None
    include_name: bool = False
    alignment: list[Alignment] = Field(default_factory=list)
    result: ResultSpec | None = None

    def achievement_id(self, issuer_id: str) -> str:
        """The template's id, or one under the issuer's web address (a did:web issuer's https origin, where
        the achievement can be published), or under the issuer id itself."""
        return self.id or f"{web_base(issuer_id).rstrip('/')}/achievements/{self.key}"

    def achievement(self, issuer_id: str) -> dict[str, Any]:
        """The Open Badges 3.0 Achievement object."""
        achievement_id = self.achievement_id(issuer_id)
        doc: dict[str, Any] = {
            "id": achievement_id,
            "type": ["Achievement"],
            "achievementType": self.achievement_type,
            "name": self.name,
            "description": self.description,
            "criteria": {"narrative": self.criteria},
        }
        if self.image:
            doc["image"] = {"id": self.image, "type": "Image"}
        if self.credits_available is not None:
            doc["creditsAvailable"] = self.credits_available
        if self.alignment:
            doc["alignment"] = [_alignment(a) for a in self.alignment]
        if self.result:
            doc["resultDescription"] = [
                {
                    "id": self.result_description_id(issuer_id),
                    "type": ["ResultDescription"],
                    "name": self.result.name,
                    "resultType": self.result.result_type,
                }
            ]
        return doc

    def result_description_id(self, issuer_id: str) -> str:
        return f"{self.achievement_id(issuer_id)}#result"

    def valid_until(self, valid_from: datetime) -> datetime | None:
        if self.validity is None:
            return None
        years, months, days = _period_parts(self.validity)
        total_months = valid_from.month - 1 + months + 12 * years
        year, month = valid_from.year + total_months // 12, total_months % 12 + 1
        day = min(valid_from.day, _days_in_month(year, month))
        return valid_from.replace(year=year, month=month, day=day) + timedelta(days=days)


def web_base(issuer_id: str) -> str:
    """`did:web:host:path` -> `https://host/path` (the did:web method's mapping); any other id as it is."""
    if not issuer_id.startswith("did:web:"):
        return issuer_id
    host, *path = issuer_id.removeprefix("did:web:").split(":")
    return "/".join([f"https://{unquote(host)}", *(unquote(p) for p in path)])


def _period_parts(period: str) -> tuple[int, int, int]:
    match = _PERIOD.fullmatch(period)
    if match is None:
        raise ValueError(f"validity {period!r} is not a period")
    years, months, days = (int(g) if g else 0 for g in match.groups())
    return years, months, days


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (datetime(year, month + 1, 1) - datetime(year, month, 1)).days


def _alignment(a: Alignment) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": ["Alignment"], "targetName": a.target_name, "targetUrl": a.target_url}
    for field, key in (
        ("target_description", "targetDescription"),
        ("target_framework", "targetFramework"),
        ("target_code", "targetCode"),
        ("target_type", "targetType"),
    ):
        value = getattr(a, field)
        if value is not None:
            doc[key] = value
    return doc


def available(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml"))


def load_template(folder: Path, key: str) -> Template:
    if not _NAME.fullmatch(key):
        raise InvalidInput(f"achievement name {key!r} must be letters, digits, '.', '_' or '-'")
    path = folder / f"{key}.toml"
    if not path.is_file():
        known = ", ".join(available(folder)) or "none"
        raise InvalidInput(f"unknown achievement {key!r} (templates in {folder}: {known})")
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from None
    try:
        return Template.model_validate({**data, "key": key, "source_sha256": hashlib.sha256(raw).hexdigest()})
    except ValidationError as exc:
        raise InvalidInput(f"{path}: {describe(exc)}") from None
