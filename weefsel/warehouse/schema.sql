-- The weefsel warehouse (DuckDB). Rebuilt atomically from the publishers' sources;
-- safe to throw away. Documented in docs/warehouse.md.

-- Every area at every level. Codes are CBS codes without padding (NL00, PV24, GM0034,
-- WK003401, BU00340101); named regions without a CBS code (police basisteams) get a
-- stable code 'RG:<level>:<name>' and their member gemeenten in area_members.
CREATE TABLE areas (
    code            VARCHAR PRIMARY KEY,
    level           VARCHAR NOT NULL,      -- land | provincie | gemeente | wijk | buurt | named level
    name            VARCHAR,
    gemeente_code   VARCHAR,               -- GMxxxx for gemeente/wijk/buurt
    wijk_code       VARCHAR,               -- WKxxxxxx for buurt
    provincie_code  VARCHAR,               -- PVxx where known
    vintage         INTEGER,               -- year of the boundary/classification
    geom_rd         BLOB,                  -- WKB, EPSG:28992 (RD New); NULL where no polygon is known
    source          VARCHAR                -- table/file that defined the area
);

-- Membership of named regions (Veiligheidsmonitor basisteams, user groups).
CREATE TABLE area_members (
    region_code     VARCHAR NOT NULL,
    member_code     VARCHAR NOT NULL,
    PRIMARY KEY (region_code, member_code)
);

-- Long-form observations. 'breakdown' keeps a sub-population apart (e.g. 'leeftijd=65+');
-- lower/upper hold published confidence bounds where the publisher gives them.
CREATE TABLE observations (
    area_code       VARCHAR NOT NULL,
    period          VARCHAR NOT NULL,      -- '2024', '2023' ...
    variable        VARCHAR NOT NULL,      -- catalogue key (see variables)
    breakdown       VARCHAR NOT NULL DEFAULT '',
    value           DOUBLE,
    lower           DOUBLE,
    upper           DOUBLE,
    source          VARCHAR NOT NULL       -- table id, e.g. 85984NED
);

-- Variable catalogue: one row per variable key.
CREATE TABLE variables (
    variable        VARCHAR PRIMARY KEY,   -- key used in observations, e.g. 'AantalInwoners'
    stem            VARCHAR NOT NULL,      -- CBS name stem without positional suffix
    title           VARCHAR,
    unit            VARCHAR,
    description     VARCHAR,
    source_table    VARCHAR,
    topic           VARCHAR                -- topic path from DataProperties
);

-- Facilities (meeting places and services) as points in RD New.
CREATE TABLE facilities (
    facility_id     VARCHAR PRIMARY KEY,   -- '<source>:<source_id>'
    type            VARCHAR NOT NULL,      -- weefsel typology key (docs/typology.md)
    name            VARCHAR,
    source          VARCHAR NOT NULL,      -- 'osm', 'registry', ...
    source_id       VARCHAR,
    x_rd            DOUBLE NOT NULL,
    y_rd            DOUBLE NOT NULL,
    capacity        DOUBLE DEFAULT 1,
    area_code       VARCHAR,               -- finest area that contains the point (buurt, else wijk)
    tags            VARCHAR,               -- JSON of the source tags kept
    placement       VARCHAR                -- exact | pc6 | pc4: how the point was placed (NULL = as the source gave it)
);

-- Where every row came from.
CREATE TABLE provenance (
    file            VARCHAR NOT NULL,
    sha256          VARCHAR,
    publisher       VARCHAR,
    licence         VARCHAR,
    table_id        VARCHAR,
    rows_read       BIGINT,
    rows_rejected   BIGINT,
    ingested_at     TIMESTAMP
);

-- The validation report of the build that made this warehouse.
CREATE TABLE validation (
    check_name      VARCHAR NOT NULL,      -- e.g. 'rejected_rows', 'coverage', 'sum_consistency'
    severity        VARCHAR NOT NULL,      -- info | warning | error
    source          VARCHAR,
    level           VARCHAR,
    area_code       VARCHAR,
    variable        VARCHAR,
    expected        DOUBLE,
    observed        DOUBLE,
    message         VARCHAR
);

CREATE TABLE build_info (
    key             VARCHAR PRIMARY KEY,
    value           VARCHAR
);
