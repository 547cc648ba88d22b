-- Reporting (issue #7): counts per month of receipt (Türkiye's time, yyyymm)
-- × province × district, kept with the folded rows (each refold moves its
-- application's contribution), so country-, province- and district-wide
-- breakdowns over whole months read a few thousand rows instead of
-- millions. Cells can fall back to zero; queries leave those out.
CREATE TABLE rpt_monthly (
    month         BIGINT NOT NULL,
    province      BIGINT NOT NULL,
    district      BIGINT NOT NULL,
    received      BIGINT NOT NULL,
    concluded     BIGINT NOT NULL,
    positive      BIGINT NOT NULL,
    negative      BIGINT NOT NULL,
    partial       BIGINT NOT NULL,
    unanswerable  BIGINT NOT NULL,
    verdicts      BIGINT NOT NULL,
    within_sla    BIGINT NOT NULL,
    -- applications that reached escalation level 1..5 and Law 3071's (100)
    level1        BIGINT NOT NULL,
    level2        BIGINT NOT NULL,
    level3        BIGINT NOT NULL,
    level4        BIGINT NOT NULL,
    level5        BIGINT NOT NULL,
    level100      BIGINT NOT NULL,
    PRIMARY KEY (month, province, district)
);
