//! Organization steps that span aggregates or tokens: founding one with a
//! hostname, importing a person into one, and membership changes, after
//! which the member's tokens die with their old privileges.

use chrono::Utc;
use skalio_id_aggregates::locale::Locale;
use skalio_id_aggregates::organization::{
    Actor, AssignRoles, CreateOrganization, ImportProfile, JoinOrganization, LeaveOrganization,
    OrganizationCommand, OrganizationError, OrganizationProfile, RemoveMember, check_roles,
};
use skalio_id_aggregates::person::{ImportPerson, PersonCommand};
use skalio_id_aggregates::token::BlacklistReason;
use skalio_id_projections::{deletion_notice, email_view, membership_view, organization_view};
use tracing::info;

use crate::accounts;
use crate::app::AppState;
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::ids::{new_hostname_label, new_uid};
use crate::sessions::{self, SignedToken};
use crate::tokens::Claims;

/// What a migration says about a new organization.
pub struct NewOrganization {
    pub profile: OrganizationProfile,
    pub hostname: Option<String>,
    pub external_uid: Option<String>,
    pub member_limit: Option<u32>,
    pub mfa_required: bool,
}

/// Founds an organization; without a hostname it gets a random one under
/// the configured domain. Returns its uid.
pub async fn create(
    state: &AppState,
    new: NewOrganization,
    meta: &RequestMeta,
) -> Result<String, ApiError> {
    let uid = new_uid();
    let hostname = new.hostname.unwrap_or_else(|| {
        format!(
            "{}.{}",
            new_hostname_label(),
            state.settings().hostname_domain()
        )
    });
    let settings = &state.settings().organizations;
    let command = OrganizationCommand::Create(CreateOrganization {
        uid: uid.clone(),
        profile: new.profile,
        hostname,
        external_uid: new.external_uid,
        member_limit: new.member_limit.unwrap_or(settings.default_member_limit),
        mfa_required: new.mfa_required,
        at: Utc::now(),
    });
    state.bus().organization(&uid, command, meta).await?;
    info!(organization = %uid, "organization created");
    Ok(uid)
}

/// Overwrites the profile and hostname of an organization from a migration.
pub async fn import_profile(
    state: &AppState,
    organization: &str,
    profile: OrganizationProfile,
    hostname: Option<String>,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    let command = OrganizationCommand::ImportProfile(ImportProfile {
        profile,
        hostname,
        at: Utc::now(),
    });
    state.bus().organization(organization, command, meta).await
}

/// A person brought over from another system.
pub struct ImportedPerson {
    pub address: String,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub locale: Locale,
    pub time_zone: String,
    pub roles: Vec<String>,
}

/// Finds the person by address or imports them, then makes them a member
/// of `organization` with `roles` (or sets the roles of a member). Returns
/// the person's uid.
pub async fn import_person(
    state: &AppState,
    organization: &str,
    imported: ImportedPerson,
    meta: &RequestMeta,
) -> Result<String, ApiError> {
    // Checked before a new person is created, so that a request the
    // organization refuses leaves no person behind. The aggregate decides
    // again; only a race with another import can still get past this.
    check_roles(&imported.roles)?;
    let target = existing(state, organization).await?;
    let known = email_view::find(state.pool(), &imported.address).await?;
    if known.is_none() && target.member_count >= target.member_limit {
        return Err(OrganizationError::MemberLimitReached.into());
    }
    let person = match known {
        Some(email) => email.person_id,
        None => {
            let uid = new_uid();
            let command = PersonCommand::Import(ImportPerson {
                uid: uid.clone(),
                address: imported.address,
                name: imported.name,
                password_hash: imported.password_hash,
                locale: imported.locale,
                time_zone: imported.time_zone,
                at: Utc::now(),
            });
            state
                .bus()
                .person(&uid, command, &meta.acting_as(&uid))
                .await?;
            uid
        }
    };
    let membership = membership_view::of_person(state.pool(), &person).await?;
    let command = match membership {
        Some(m) if m.organization_id == organization => {
            OrganizationCommand::AssignRoles(AssignRoles {
                by: Actor::ClusterAdministrator,
                person: person.clone(),
                roles: imported.roles,
                reference: None,
                at: Utc::now(),
            })
        }
        _ => OrganizationCommand::Join(JoinOrganization {
            person: person.clone(),
            roles: imported.roles,
            reference: None,
            at: Utc::now(),
        }),
    };
    state
        .bus()
        .organization(organization, command, meta)
        .await?;
    let reason = BlacklistReason::MembershipChanged;
    sessions::blacklist_all(state, &person, reason, &meta.acting_as(&person)).await?;
    Ok(person)
}

/// The caller leaves their organization and gets a new ID token without
/// its privileges.
pub async fn leave(
    state: &AppState,
    organization: &str,
    caller: &Claims,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let command = OrganizationCommand::Leave(LeaveOrganization {
        person: caller.sub.clone(),
        at: Utc::now(),
    });
    let meta = meta.acting_as(&caller.sub);
    state
        .bus()
        .organization(organization, command, &meta)
        .await?;
    sessions::reissue_after_privileges_changed(state, caller, &meta).await
}

/// Replaces a member's roles. Their tokens die; when the caller changed
/// their own roles they get a new ID token, which is returned.
pub async fn assign_roles(
    state: &AppState,
    organization: &str,
    caller: &Claims,
    assignment: AssignRoles,
    meta: &RequestMeta,
) -> Result<Option<SignedToken>, ApiError> {
    let person = assignment.person.clone();
    let meta = meta.acting_as(&caller.sub);
    let command = OrganizationCommand::AssignRoles(assignment);
    state
        .bus()
        .organization(organization, command, &meta)
        .await?;
    if person == caller.sub {
        return Ok(Some(
            sessions::reissue_after_privileges_changed(state, caller, &meta).await?,
        ));
    }
    let reason = BlacklistReason::MembershipChanged;
    sessions::blacklist_all(state, &person, reason, &meta).await?;
    Ok(None)
}

/// An administrator removes a member, which deletes the member's account;
/// with `inform`, the member is told by mail once the account is gone.
pub async fn remove_member(
    state: &AppState,
    organization: &str,
    caller: &Claims,
    person: &str,
    inform: bool,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    if inform {
        request_deletion_notice(state, organization, person).await?;
    }
    let command = OrganizationCommand::RemoveMember(RemoveMember {
        by: Actor::Member(caller.sub.clone()),
        person: person.to_string(),
        inform,
        at: Utc::now(),
    });
    let meta = meta.acting_as(&caller.sub);
    if let Err(refused) = state.bus().organization(organization, command, &meta).await {
        if inform {
            deletion_notice::withdraw(state.pool(), person).await?;
        }
        return Err(refused);
    }
    accounts::delete_account(state, person, &meta).await
}

/// Keeps the member's primary address for the notice of their removal,
/// which is mailed after their key, and with it the address in the log,
/// is destroyed.
async fn request_deletion_notice(
    state: &AppState,
    organization: &str,
    person: &str,
) -> Result<(), ApiError> {
    // Someone else's member is refused by the command; nothing to keep.
    let membership = membership_view::of_person(state.pool(), person).await?;
    if membership.is_none_or(|m| m.organization_id != organization) {
        return Ok(());
    }
    let addresses = email_view::of_person(state.pool(), person).await?;
    let Some(primary) = addresses.into_iter().find(|e| e.is_primary) else {
        return Ok(());
    };
    let name = existing(state, organization).await?.profile.0.name;
    deletion_notice::request(state.pool(), person, &primary.address, &name).await?;
    Ok(())
}

/// The organization `uid`, or 404.
pub async fn existing(
    state: &AppState,
    uid: &str,
) -> Result<organization_view::OrganizationRow, ApiError> {
    organization_view::find(state.pool(), uid)
        .await?
        .ok_or_else(|| ApiError::not_found("No organization matches the uid."))
}
