//! Pausing and resuming a clock (waiting on the applicant or another body), audited.

use super::*;

impl Escalation {
    pub(super) async fn pause_clock(
        &self,
        req: Request<pb::PauseClockRequest>,
    ) -> Result<Response<pb::Sla>, Status> {
        let who = caller(&req)?;
        let actor = Actor::of(&who, Some(&origin(&req)));
        let r = req.into_inner();
        let reason = r.reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(invalid(
                "reason",
                format!("why the clock stops, 1 to {MAX_REASON_CHARS} characters"),
            ));
        }
        Ok(Response::new(
            self.pause_or_resume(
                &actor,
                &Scope::of(&who),
                &r.application_number,
                Some(reason),
            )
            .await?,
        ))
    }

    pub(super) async fn resume_clock(
        &self,
        req: Request<pb::ResumeClockRequest>,
    ) -> Result<Response<pb::Sla>, Status> {
        let who = caller(&req)?;
        let actor = Actor::of(&who, Some(&origin(&req)));
        let r = req.into_inner();
        Ok(Response::new(
            self.pause_or_resume(&actor, &Scope::of(&who), &r.application_number, None)
                .await?,
        ))
    }
}
